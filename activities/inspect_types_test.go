package activities

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/store/storetest"
)

// TestApplyInspectionWrongTypes: posted facts of another JSON type than
// the agent's (which Ironic's schema and default hooks accept) are
// unknown, not a failure after the API answered 202: the inspection is
// applied without them, with the others and the ports.
func TestApplyInspectionWrongTypes(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name              string
		cpu, memory, boot string // members after the architecture, the memory's, after pxe_interface
		diskSize          string
		want              map[string]any // properties besides cpu_arch
		wantNot           []string
	}{
		{name: "physical_mb a string", cpu: `,"count":8`, memory: `"physical_mb":"16384"`, diskSize: "10737418240",
			want: map[string]any{"cpus": 8.0, "local_gb": 9.0}, wantNot: []string{"memory_mb"}},
		{name: "count a string", cpu: `,"count":"8"`, memory: `"physical_mb":16384`, diskSize: "10737418240",
			want: map[string]any{"memory_mb": 16384.0, "local_gb": 9.0}, wantNot: []string{"cpus"}},
		{name: "total a string, flags a string, boot mode a number", cpu: `,"count":2,"flags":"fpu"`,
			memory: `"total":"1"`, boot: `,"current_boot_mode":1`, diskSize: "10737418240",
			want: map[string]any{"cpus": 2.0, "local_gb": 9.0}, wantNot: []string{"memory_mb", "capabilities"}},
		{name: "disk size a string, count an object", cpu: `,"count":{}`, memory: `"physical_mb":[1]`,
			boot: `,"current_boot_mode":"uefi"`, diskSize: `"10737418240"`,
			want: map[string]any{"capabilities": "boot_mode:uefi"}, wantNot: []string{"cpus", "memory_mb", "local_gb"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := storetest.New(t)
			ctx := t.Context()
			n, err := st.CreateNode(ctx, store.Node{Driver: "fake", ProvisionState: node.InspectWait})
			if err != nil {
				t.Fatal(err)
			}
			inv := `{"interfaces":[{"name":"ens3","mac_address":"52:54:00:12:34:56","ipv4_address":"10.0.2.15"}],` +
				`"cpu":{"architecture":"x86_64"` + tt.cpu + `},"memory":{` + tt.memory + `},` +
				`"disks":[{"name":"/dev/vda","size":` + tt.diskSize + `}],` +
				`"boot":{"pxe_interface":"52:54:00:12:34:56"` + tt.boot + `}}`
			if err := st.SubmitInspectionData(ctx, n.UUID, []byte(inv), []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
			acts := &Activities{Nodes: st, Inspection: st, InspectAddPorts: "pxe"}
			if err := acts.ProcessInspectionData(ctx, n.UUID); err != nil {
				t.Fatalf("process: %v", err)
			}
			applied, err := acts.ApplyInspection(ctx, ApplyInspectionInput{UUID: n.UUID, Hooks: true})
			if err != nil {
				t.Fatalf("apply %s: %v", inv, err)
			}
			if !slices.Equal(applied.PortsCreated, []string{"52:54:00:12:34:56"}) {
				t.Errorf("ports created %v", applied.PortsCreated)
			}
			got, err := st.Node(ctx, n.UUID)
			if err != nil {
				t.Fatal(err)
			}
			var props map[string]any
			if err := json.Unmarshal(got.Properties, &props); err != nil || props["cpu_arch"] != "x86_64" {
				t.Fatalf("properties %s (%v)", got.Properties, err)
			}
			for k, v := range tt.want {
				if props[k] != v {
					t.Errorf("properties %s: %s, want %v", got.Properties, k, v)
				}
			}
			for _, k := range tt.wantNot {
				if _, ok := props[k]; ok {
					t.Errorf("properties %s: %s set from a fact of the wrong type", got.Properties, k)
				}
			}
			ports, err := st.ListPorts(ctx, store.ListPorts{NodeUUID: n.UUID})
			if err != nil || len(ports) != 1 || ports[0].Address != "52:54:00:12:34:56" || !ports[0].PXEEnabled {
				t.Errorf("ports %+v, %v", ports, err)
			}
		})
	}
}
