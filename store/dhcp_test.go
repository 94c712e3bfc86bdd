package store_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/store/storetest"
)

func TestDHCPHostByMAC(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := t.Context()
	n := mustNode(t, s, "dhcp-host", func(n *store.Node) {
		n.Properties = json.RawMessage(`{"capabilities":"boot_mode:uefi"}`)
	})
	if _, err := s.CreatePort(ctx, store.Port{Address: "52:54:00:AA:00:01", NodeUUID: n.UUID, PXEEnabled: true}); err != nil {
		t.Fatal(err)
	}
	h, ok, err := s.DHCPHostByMAC(ctx, "52:54:00:aa:00:01")
	if err != nil || !ok || h.NodeUUID != n.UUID || !h.PXEEnabled || string(h.Properties) != `{"capabilities": "boot_mode:uefi"}` {
		t.Fatalf("DHCPHostByMAC = %+v, %v, %v", h, ok, err)
	}
	if _, ok, err := s.DHCPHostByMAC(ctx, "52:54:00:aa:00:02"); ok || err != nil {
		t.Fatalf("unknown MAC: ok %v err %v", ok, err)
	}
}

func TestSetBootModeMismatch(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := t.Context()
	n := mustNode(t, s, "mismatch")
	// Not booting the ramdisk: nothing is written.
	if err := s.SetBootModeMismatch(ctx, n.UUID, "boot mode mismatch"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Node(ctx, n.UUID); got.LastError != nil {
		t.Fatalf("last_error %q written outside a provisioning boot", *got.LastError)
	}
	if err := s.OpenAgentSession(ctx, n.UUID); err != nil {
		t.Fatal(err)
	}
	if err := s.SetBootModeMismatch(ctx, n.UUID, "boot mode mismatch"); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Node(ctx, n.UUID)
	if got.LastError == nil || *got.LastError != "boot mode mismatch" || got.Version != n.Version {
		t.Fatalf("last_error %v version %d (was %d): want the message, version unchanged", got.LastError, got.Version, n.Version)
	}
}

func TestAcquireDHCPLease(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := t.Context()
	a := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	req := func(mac string) store.DHCPLeaseRequest {
		return store.DHCPLeaseRequest{MAC: mac, RangeStart: a("10.0.0.10"), RangeEnd: a("10.0.0.12"), Hold: time.Hour}
	}
	acquire := func(r store.DHCPLeaseRequest) netip.Addr {
		t.Helper()
		ip, err := s.AcquireDHCPLease(ctx, r)
		if err != nil {
			t.Fatalf("AcquireDHCPLease(%s): %v", r.MAC, err)
		}
		return ip
	}
	ip1 := acquire(req("02:00:00:00:00:01"))
	if again := acquire(req("02:00:00:00:00:01")); again != ip1 {
		t.Fatalf("the same MAC got %s, then %s", ip1, again)
	}
	// A free requested address is given; a taken one is not.
	r := req("02:00:00:00:00:02")
	r.Requested = ip1
	ip2 := acquire(r)
	if ip2 == ip1 {
		t.Fatalf("two MACs hold %s", ip1)
	}
	ip3 := acquire(req("02:00:00:00:00:03"))
	if ip3 == ip1 || ip3 == ip2 {
		t.Fatalf("addresses %s %s %s are not distinct", ip1, ip2, ip3)
	}
	if _, err := s.AcquireDHCPLease(ctx, req("02:00:00:00:00:04")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("exhausted range: %v, want ErrNotFound", err)
	}
	// A released lease can go to another MAC.
	if err := s.ReleaseDHCPLease(ctx, "02:00:00:00:00:03", ip3); err != nil {
		t.Fatal(err)
	}
	if got := acquire(req("02:00:00:00:00:04")); got != ip3 {
		t.Fatalf("after release got %s, want %s", got, ip3)
	}

	// A reservation (an enrolled port's MAC) outlives release and expiry.
	n := mustNode(t, s, "reserved")
	if _, err := s.CreatePort(ctx, store.Port{Address: "02:00:00:00:00:01", NodeUUID: n.UUID}); err != nil {
		t.Fatal(err)
	}
	rr := req("02:00:00:00:00:01")
	rr.Reserved, rr.Hold = true, time.Millisecond
	if got := acquire(rr); got != ip1 {
		t.Fatalf("reservation got %s, want its lease %s", got, ip1)
	}
	if err := s.ReleaseDHCPLease(ctx, "02:00:00:00:00:01", ip1); err != nil {
		t.Fatal(err)
	}
	leases, err := s.DHCPLeases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range leases {
		if l.MAC == "02:00:00:00:00:01" && (!l.Reserved || l.ExpiresAt != nil) {
			t.Fatalf("reservation %+v: want reserved, no expiry", l)
		}
	}
	other := req("02:00:00:00:00:05")
	other.Requested = ip1
	if _, err := s.AcquireDHCPLease(ctx, other); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a new MAC took a reserved address: %v", err)
	}
}

func TestAcquireDHCPLeaseConcurrent(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := t.Context()
	const n = 40
	var wg sync.WaitGroup
	ips := make([]netip.Addr, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			ips[i], errs[i] = s.AcquireDHCPLease(ctx, store.DHCPLeaseRequest{MAC: fmt.Sprintf("02:00:00:00:01:%02x", i),
				RangeStart: netip.MustParseAddr("10.1.0.1"), RangeEnd: netip.MustParseAddr("10.1.0.40"), Hold: time.Hour})
		})
	}
	wg.Wait()
	seen := map[netip.Addr]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("acquire %d: %v", i, errs[i])
		}
		if seen[ips[i]] {
			t.Fatalf("%s handed out twice", ips[i])
		}
		seen[ips[i]] = true
	}
}
