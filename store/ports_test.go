package store_test

import (
	"strings"
	"testing"

	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/store/storetest"
)

// TestPortsByAddresses: the ports of any of the addresses, in one query,
// each port once however often (and in whatever case) its address is
// given; unknown addresses are skipped.
func TestPortsByAddresses(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := t.Context()
	n1, n2 := mustNode(t, s, "n1"), mustNode(t, s, "n2")
	var made []store.Port
	for _, p := range []store.Port{
		{Address: "52:54:00:00:00:01", NodeUUID: n1.UUID},
		{Address: "52:54:00:00:00:02", NodeUUID: n2.UUID},
		{Address: "52:54:00:aa:00:03", NodeUUID: n1.UUID},
	} {
		got, err := s.CreatePort(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, got)
	}
	many := make([]string, 0, 10002)
	for range 10000 {
		many = append(many, "52:54:00:00:00:01")
	}
	many = append(many, " 52:54:00:00:00:01 ", "52:54:00:00:00:0A")
	for _, tt := range []struct {
		name string
		macs []string
		want []string // port UUIDs
	}{
		{"none", nil, nil},
		{"unknown", []string{"00:00:00:00:00:00"}, nil},
		{"one, any case", []string{"52:54:00:AA:00:03", "52:54:00:aa:00:03"}, []string{made[2].UUID}},
		{"many copies of one", many, []string{made[0].UUID}},
		{"two nodes, unknown skipped", []string{"52:54:00:AA:00:03", "00:00:00:00:00:00", "52:54:00:00:00:02",
			"52:54:00:00:00:01"}, []string{made[0].UUID, made[1].UUID, made[2].UUID}},
	} {
		got, err := s.PortsByAddresses(ctx, tt.macs)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var uuids []string
		for _, p := range got {
			uuids = append(uuids, p.UUID)
		}
		if strings.Join(uuids, ",") != strings.Join(tt.want, ",") {
			t.Errorf("%s: PortsByAddresses = %v, want %v", tt.name, uuids, tt.want)
		}
	}
	// The ports are whole: node UUID and address as PortByAddress reads.
	got, err := s.PortsByAddresses(ctx, []string{"52:54:00:00:00:02"})
	if err != nil || len(got) != 1 || got[0].NodeUUID != n2.UUID || got[0].Address != "52:54:00:00:00:02" {
		t.Errorf("PortsByAddresses = %+v, %v", got, err)
	}
}
