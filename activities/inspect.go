package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/ferric-project/ferric/agent/wire"
	"github.com/ferric-project/ferric/drivers/inventory"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows/contract"
)

// InspectStore is what inspection needs of the store; *store.Store
// satisfies it.
type InspectStore interface {
	SetInventory(ctx context.Context, inv store.Inventory) error
	NodeInventory(ctx context.Context, nodeUUID string) (store.Inventory, error)
	UpdateNode(ctx context.Context, n store.Node) (store.Node, error)
	CreatePort(ctx context.Context, p store.Port) (store.Port, error)
	UpdatePort(ctx context.Context, p store.Port) (store.Port, error)
	ListPorts(ctx context.Context, q store.ListPorts) ([]store.Port, error)
	InspectionData(ctx context.Context, nodeUUID string) (store.Inventory, error)
	MarkInspectionApplied(ctx context.Context, nodeUUID string) error
	// The inspection rules, and one transaction for what they change.
	ListInspectionRules(ctx context.Context, f store.ListInspectionRules) ([]store.InspectionRule, error)
	InTx(ctx context.Context, fn func(q store.Queries) error) error
}

func (a *Activities) inspectStore() (InspectStore, error) {
	if a.Inspection == nil {
		return nil, temporal.NewNonRetryableApplicationError("this worker has no inspection store",
			contract.ErrTypeUnsupported, nil)
	}
	return a.Inspection, nil
}

// InspectHardware runs the node's inspect interface. Out of band (the
// driver asks the BMC, or the fake answers) it validates and stores the
// inventory and returns true; an in-band interface returns false: the
// workflow boots the ramdisk and the agent inspects.
func (a *Activities) InspectHardware(ctx context.Context, uuid string) (bool, error) {
	st, err := a.inspectStore()
	if err != nil {
		return false, err
	}
	l, err := a.load(ctx, uuid)
	if err != nil {
		return false, classify(err)
	}
	in, err := a.Drivers.Inspect(l.rec.Interfaces.Inspect, l.dn)
	if err != nil {
		return false, classify(err)
	}
	stop := heartbeatEvery(ctx, inspectHeartbeatInterval)
	called := a.call(ctx, l.rec.Driver, "inspect.inspect_hardware")
	doc, err := in.InspectHardware(ctx)
	called(err)
	stop()
	if err != nil {
		return false, classify(fmt.Errorf("inspect node %s: %w", uuid, err))
	}
	if doc == nil {
		return false, nil
	}
	if err := storeDocument(ctx, st, uuid, l.rec.Interfaces.Inspect, doc); err != nil {
		return false, err
	}
	return true, nil
}

// inspectHeartbeatInterval is how often InspectHardware heartbeats while
// the driver works: an out-of-band inspection sends a few dozen commands to
// the BMC, which pacing (-ipmi-min-command-interval) can stretch past the
// activity's heartbeat timeout.
const inspectHeartbeatInterval = 10 * time.Second

// heartbeatEvery records a heartbeat every interval, in a regular activity,
// until the returned stop is called; stop waits for the heartbeats to end.
func heartbeatEvery(ctx context.Context, every time.Duration) (stop func()) {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(every)
		defer t.Stop()
		for beat := 1; ; beat++ {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx, beat)
			}
		}
	}()
	return func() { close(done); <-exited }
}

// StoreAgentInventoryInput names the agent command whose result is the
// inventory.
type StoreAgentInventoryInput struct {
	UUID      string `json:"uuid"`
	CommandID string `json:"command_id"`
}

// StoreAgentInventory validates and stores the inventory the ramdisk agent
// reported as the result of its inspect command (it stays in the store: the
// workflow never carries it).
func (a *Activities) StoreAgentInventory(ctx context.Context, in StoreAgentInventoryInput) error {
	st, err := a.inspectStore()
	if err != nil {
		return err
	}
	ag, err := a.agents()
	if err != nil {
		return err
	}
	sess, err := ag.AgentSession(ctx, in.UUID)
	if err != nil {
		return classify(fmt.Errorf("read agent session of node %s: %w", in.UUID, err))
	}
	c, ok := sess.Command(in.CommandID)
	if !ok || c.Status != wire.StatusSucceeded {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("the agent of node %s reported no inventory", in.UUID), contract.ErrTypeAgentCommandFailed, nil)
	}
	return storeDocument(ctx, st, in.UUID, "agent", c.Result)
}

// ErrTypeBadInventory: the inventory does not match the schema.
const errTypeBadInventory = "InvalidInventory"

// storeDocument validates an inventory document and stores its two parts
// as they were submitted.
func storeDocument(ctx context.Context, st InspectStore, uuid, source string, doc json.RawMessage) error {
	parts, err := splitDocument(doc)
	if err != nil {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("inventory of node %s from %s is invalid: %v", uuid, source, err), errTypeBadInventory, nil)
	}
	if err := st.SetInventory(ctx, store.Inventory{NodeUUID: uuid, Inventory: parts.inventory,
		PluginData: parts.pluginData, Source: source}); err != nil {
		return classify(fmt.Errorf("store inventory of node %s: %w", uuid, err))
	}
	return nil
}

type documentParts struct{ inventory, pluginData json.RawMessage }

// splitDocument returns the inventory and plugin_data members of a
// document, byte for byte, after validating it against the inventory schema.
func splitDocument(doc json.RawMessage) (documentParts, error) {
	if err := inventory.Validate(doc); err != nil {
		return documentParts{}, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(doc, &m); err != nil {
		return documentParts{}, err
	}
	p := documentParts{inventory: m["inventory"], pluginData: m["plugin_data"]}
	if len(p.pluginData) == 0 || string(p.pluginData) == "null" {
		p.pluginData = json.RawMessage(`{}`)
	}
	return p, nil
}

// ProcessInspectionData runs the inspection hooks (inventory.RunHooks:
// Ironic's ramdisk-error, validate-interfaces, ports, architecture) on the
// data a ramdisk posted to POST /v1/continue_inspection, and stores the
// inventory and the processed plugin_data as the node's inventory.
// Running it again (a retry after a crash) stores the same result, or,
// once ApplyInspection has applied the data (the rules may have changed
// the plugin data), nothing. A hook failure is InvalidInventory with
// Ironic's message.
func (a *Activities) ProcessInspectionData(ctx context.Context, uuid string) error {
	st, err := a.inspectStore()
	if err != nil {
		return err
	}
	d, err := postedData(ctx, st, uuid)
	if err != nil || d.AppliedAt != nil {
		return err
	}
	p, err := inventory.RunHooks(d.Inventory, d.PluginData, a.InspectAddPorts)
	if err != nil {
		return temporal.NewNonRetryableApplicationError(
			"failed to run inspection hooks: "+hookMessage(err),
			errTypeBadInventory, nil)
	}
	// Inspection rules (API 1.96) run in ApplyInspection, once the hooks'
	// changes (properties, ports) are on the node, as in Ironic's
	// continue_inspection.
	if err := st.SetInventory(ctx, store.Inventory{NodeUUID: uuid, Inventory: d.Inventory, PluginData: p.PluginData,
		Source: "agent"}); err != nil {
		return classify(fmt.Errorf("store inventory of node %s: %w", uuid, err))
	}
	return nil
}

// postedData reads the inspection data posted for node uuid; none is
// InvalidInventory (the API removed what it could not hand over).
func postedData(ctx context.Context, st InspectStore, uuid string) (store.Inventory, error) {
	d, err := st.InspectionData(ctx, uuid)
	if errors.Is(err, store.ErrNotFound) {
		return d, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("no inspection data is pending for node %s", uuid), errTypeBadInventory, nil)
	}
	if err != nil {
		return d, classify(fmt.Errorf("read inspection data of node %s: %w", uuid, err))
	}
	return d, nil
}

// hookMessage is a hook failure's message as Ironic words it.
func hookMessage(err error) string {
	if he := (*inventory.HookError)(nil); errors.As(err, &he) {
		return he.Msg
	}
	return err.Error()
}

// ApplyInspectionInput applies a stored inventory to its node.
type ApplyInspectionInput struct {
	UUID string `json:"uuid"`
	// AddPorts overrides the worker's InspectAddPorts ("" = the worker's).
	AddPorts string `json:"add_ports,omitempty"`
	// Hooks: the inventory came through POST /v1/continue_inspection and
	// was processed by the hooks: ports and cpu_arch follow Ironic's ports
	// and architecture hooks.
	Hooks bool `json:"hooks,omitempty"`
}

// InspectionApplied says what ApplyInspection changed.
type InspectionApplied struct {
	Properties   []string `json:"properties,omitempty"` // property keys set
	PortsCreated []string `json:"ports_created,omitempty"`
	PortsSkipped []string `json:"ports_skipped,omitempty"` // MACs that belong to another node
	PortsUpdated []string `json:"ports_updated,omitempty"` // pxe_enabled changed
	// RulesApplied are the inspection rules whose actions ran (data from
	// POST /v1/continue_inspection only, as Ironic's).
	RulesApplied []string `json:"rules_applied,omitempty"`
}

// pxeKnown reports whether the inventory says which NIC the machine booted
// from.
func pxeKnown(nics []inventory.NIC) bool {
	for _, n := range nics {
		if n.PXE {
			return true
		}
	}
	return false
}

// ApplyInspection does what Ironic's inspection does with an inventory:
// node properties (cpus, memory_mb, local_gb, cpu_arch, capabilities'
// boot_mode) and ports for the NICs found, as add_ports says, with
// pxe_enabled on the NIC the node booted from. Data the ramdisk posted
// (in.Hooks) then goes through the inspection rules, and is marked
// applied: run again (a retry after a crash), this does nothing, so that
// it neither applies a rule twice nor undoes what a rule changed.
func (a *Activities) ApplyInspection(ctx context.Context, in ApplyInspectionInput) (InspectionApplied, error) {
	var out InspectionApplied
	st, err := a.inspectStore()
	if err != nil {
		return out, err
	}
	if in.Hooks {
		if d, err := postedData(ctx, st, in.UUID); err != nil || d.AppliedAt != nil {
			return out, err
		}
	}
	inv, err := st.NodeInventory(ctx, in.UUID)
	if err != nil {
		return out, classify(fmt.Errorf("read inventory of node %s: %w", in.UUID, err))
	}
	// Ironic takes any inventory its schema allows: a fact of another JSON
	// type than the agent's (memory.physical_mb a string) is unknown, not
	// a failure of the inspection.
	doc, err := inventory.Decode(inv.Inventory, inv.PluginData)
	if err != nil {
		return out, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("inventory of node %s: %v", in.UUID, err), errTypeBadInventory, nil)
	}
	sum := inventory.Summarize(doc)
	policy := in.AddPorts
	if policy == "" {
		policy = a.InspectAddPorts
	}
	var hooked inventory.Processed
	if in.Hooks {
		if hooked, err = inventory.RunHooks(inv.Inventory, inv.PluginData, policy); err != nil {
			return out, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("inventory of node %s: %v", in.UUID, err), errTypeBadInventory, nil)
		}
		sum.CPUArch = hooked.CPUArch
	}
	// Properties. The workflow holds the node's lock; only API writes
	// (PATCH) can race: re-read and re-apply.
	for attempt := 0; ; attempt++ {
		n, err := a.Nodes.Node(ctx, in.UUID)
		if err != nil {
			return out, classify(fmt.Errorf("load node %s: %w", in.UUID, err))
		}
		props := map[string]any{}
		if len(n.Properties) > 0 {
			if err := json.Unmarshal(n.Properties, &props); err != nil {
				props = map[string]any{}
			}
		}
		out.Properties = out.Properties[:0]
		set := func(k string, v any) { props[k] = v; out.Properties = append(out.Properties, k) }
		if sum.CPUs > 0 {
			set("cpus", sum.CPUs)
		}
		if sum.MemoryMB > 0 {
			set("memory_mb", sum.MemoryMB)
		}
		if sum.LocalGB > 0 {
			set("local_gb", sum.LocalGB)
		}
		if sum.CPUArch != "" {
			set("cpu_arch", sum.CPUArch)
		}
		if sum.BootMode != "" {
			caps, _ := props["capabilities"].(string)
			set("capabilities", withCapability(caps, "boot_mode", sum.BootMode))
		}
		raw, err := json.Marshal(props)
		if err != nil {
			return out, fmt.Errorf("encode properties: %w", err)
		}
		n.Properties = raw
		if _, err := st.UpdateNode(ctx, n); err == nil {
			break
		} else if !errors.Is(err, store.ErrConflict) || attempt >= 4 {
			return out, classify(fmt.Errorf("update properties of node %s: %w", in.UUID, err))
		}
	}
	if in.Hooks {
		if out, err = a.hookPorts(ctx, st, in.UUID, hooked, policy, out); err != nil {
			return out, err
		}
		if out.RulesApplied, err = a.applyInspectionRules(ctx, in.UUID); err != nil {
			return out, err
		}
		// The rules' transaction marked the data applied; with no rules,
		// mark it here (failing to fails nothing: a retry would only set
		// the same properties and ports again).
		if err := st.MarkInspectionApplied(ctx, in.UUID); err != nil && activity.IsActivity(ctx) {
			activity.GetLogger(ctx).Warn("mark inspection data applied", "node", in.UUID, "err", err)
		}
		return out, nil
	}
	// Ports.
	existing, err := st.ListPorts(ctx, store.ListPorts{NodeUUID: in.UUID})
	if err != nil {
		return out, classify(fmt.Errorf("list ports of node %s: %w", in.UUID, err))
	}
	have := map[string]bool{}
	pxe := map[string]bool{}
	for _, nic := range sum.NICs {
		pxe[nic.MAC] = nic.PXE
	}
	for _, p := range existing {
		mac := strings.ToLower(p.Address)
		have[mac] = true
		// As Ironic's inspection: a known port's pxe_enabled follows what
		// the machine booted from.
		if want, seen := pxe[mac]; seen && want != p.PXEEnabled && pxeKnown(sum.NICs) {
			if err := setPortPXE(ctx, st, p, want, &out); err != nil {
				return out, err
			}
		}
	}
	for _, nic := range portsToAdd(sum.NICs, policy) {
		mac := nic.MAC
		if have[mac] {
			continue
		}
		created, err := addInspectedPort(ctx, st, in.UUID, mac, nic.PXE, json.RawMessage(`{}`), &out)
		if err != nil {
			return out, err
		}
		have[mac] = created
	}
	return out, nil
}

// portsToAdd applies Ironic's add_ports: all NICs, the active ones (with an
// IP address), the PXE one (falling back to the active ones when it is not
// known), or none.
func portsToAdd(nics []inventory.NIC, policy string) []inventory.NIC {
	var out []inventory.NIC
	switch policy {
	case "disabled":
		return nil
	case "all":
		return nics
	case "active":
		for _, n := range nics {
			if n.IPv4 != "" {
				out = append(out, n)
			}
		}
		return out
	}
	for _, n := range nics {
		if n.PXE {
			return []inventory.NIC{n}
		}
	}
	return portsToAdd(nics, "active")
}

// withCapability sets key:value in Ironic's "k1:v1,k2:v2" capabilities.
func withCapability(caps, key, value string) string {
	var parts []string
	for _, kv := range strings.Split(caps, ",") {
		if kv == "" || strings.HasPrefix(kv, key+":") {
			continue
		}
		parts = append(parts, kv)
	}
	return strings.Join(append(parts, key+":"+value), ",")
}

// hookPorts is Ironic's ports hook: a port for each valid interface
// (unless add_ports is disabled; a MAC that is already a port is left),
// with pxe_enabled and the DHCP client-id in extra; then every port of the
// node gets pxe_enabled from the inventory (keep_ports "all": none is
// deleted).
func (a *Activities) hookPorts(ctx context.Context, st InspectStore, uuid string, p inventory.Processed, policy string,
	out InspectionApplied) (InspectionApplied, error) {
	existing, err := st.ListPorts(ctx, store.ListPorts{NodeUUID: uuid})
	if err != nil {
		return out, classify(fmt.Errorf("list ports of node %s: %w", uuid, err))
	}
	have := map[string]bool{}
	for _, port := range existing {
		have[strings.ToLower(port.Address)] = true
	}
	if policy != inventory.AddPortsDisabled {
		for _, nic := range p.Valid {
			if have[strings.ToLower(nic.MAC)] {
				continue
			}
			extra := json.RawMessage(`{}`)
			if nic.ClientID != "" {
				extra, _ = json.Marshal(map[string]string{"client-id": nic.ClientID})
			}
			mac := strings.ToLower(nic.MAC)
			created, err := addInspectedPort(ctx, st, uuid, mac, nic.PXE, extra, &out)
			if err != nil {
				return out, err
			}
			have[mac] = created
		}
	}
	pxe := map[string]bool{}
	for _, nic := range p.All {
		if nic.PXE {
			pxe[strings.ToLower(nic.MAC)] = true
		}
	}
	for _, port := range existing {
		mac := strings.ToLower(port.Address)
		if want := pxe[mac]; want != port.PXEEnabled {
			if err := setPortPXE(ctx, st, port, want, &out); err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

// addInspectedPort creates the port an inspection found (MAC lower-case),
// recorded in out as created, or as skipped when another node has the
// MAC. It reports whether the port was created.
func addInspectedPort(ctx context.Context, st InspectStore, uuid, mac string, pxe bool, extra json.RawMessage,
	out *InspectionApplied,
) (bool, error) {
	_, err := st.CreatePort(ctx, store.Port{Address: mac, NodeUUID: uuid, PXEEnabled: pxe,
		Extra: extra, LocalLinkConnection: json.RawMessage(`{}`), InternalInfo: json.RawMessage(`{}`)})
	switch {
	case errors.Is(err, store.ErrExists):
		out.PortsSkipped = append(out.PortsSkipped, mac)
		return false, nil
	case err != nil:
		return false, classify(fmt.Errorf("create port %s of node %s: %w", mac, uuid, err))
	}
	out.PortsCreated = append(out.PortsCreated, mac)
	return true, nil
}

// setPortPXE sets a port's pxe_enabled as the inspection found it,
// recorded in out as updated.
func setPortPXE(ctx context.Context, st InspectStore, port store.Port, pxe bool, out *InspectionApplied) error {
	port.PXEEnabled = pxe
	mac := strings.ToLower(port.Address)
	if _, err := st.UpdatePort(ctx, port); err != nil {
		return classify(fmt.Errorf("update port %s of node %s: %w", mac, port.NodeUUID, err))
	}
	out.PortsUpdated = append(out.PortsUpdated, mac)
	return nil
}
