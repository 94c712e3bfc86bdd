package drivers_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/drivers/fake"
)

func TestRegistry(t *testing.T) {
	r := drivers.NewRegistry()
	fake.New().Register(r)

	tests := []struct {
		name      string
		hwType    string
		requested map[drivers.Kind]string
		wantErr   error
		want      map[drivers.Kind]string // subset checked
	}{
		{"defaults filled", fake.TypeName, nil, nil,
			map[drivers.Kind]string{drivers.KindPower: "fake", drivers.KindNetwork: "noop", drivers.KindDeploy: "fake"}},
		{"supported choice kept", fake.TypeName, map[drivers.Kind]string{drivers.KindDeploy: "direct"}, nil,
			map[drivers.Kind]string{drivers.KindDeploy: "direct"}},
		{"unsupported interface", fake.TypeName, map[drivers.Kind]string{drivers.KindPower: "ipmitool"}, drivers.ErrBadConfig, nil},
		{"unknown hardware type", "redfish", nil, drivers.ErrUnknownDriver, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := r.ResolveInterfaces(tt.hwType, tt.requested)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ResolveInterfaces error = %v, want %v", err, tt.wantErr)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s interface = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func TestFakeDriverInfoAndFailures(t *testing.T) {
	r := drivers.NewRegistry()
	fake.New().Register(r)
	ctx := context.Background()

	if _, err := r.Power("fake", drivers.Node{UUID: "n", DriverInfo: json.RawMessage(`{"fake_delay":"soon"}`)}); !errors.Is(err, drivers.ErrBadConfig) {
		t.Errorf("bad fake_delay: %v, want ErrBadConfig", err)
	}
	if _, err := r.Power("nope", drivers.Node{UUID: "n"}); !errors.Is(err, drivers.ErrUnsupported) {
		t.Errorf("unknown power interface: %v, want ErrUnsupported", err)
	}
	p, err := r.Power("fake", drivers.Node{UUID: "n", DriverInfo: json.RawMessage(`{"fake_fail":["power"]}`)})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.SetPowerState(ctx, drivers.PowerOn); !errors.Is(err, drivers.ErrFailed) {
		t.Errorf("fake_fail power: %v, want ErrFailed", err)
	}

	// State is kept per node across driver instances; Reboot falls back to
	// the native capability.
	ok, _ := r.Power("fake", drivers.Node{UUID: "m", PowerState: drivers.PowerOff})
	if err := drivers.Reboot(ctx, ok, false); err != nil {
		t.Fatal(err)
	}
	// A power interface without a reboot of its own powers off, then on,
	// unless the node must keep its power.
	var bare onOff
	if err := drivers.Reboot(ctx, &bare, false); err != nil || !slices.Equal(bare.sets, []drivers.PowerState{drivers.PowerOff, drivers.PowerOn}) {
		t.Errorf("fallback reboot: %v, sets %v", err, bare.sets)
	}
	bare.sets = nil
	if err := drivers.Reboot(ctx, &bare, true); !errors.Is(err, drivers.ErrUnsupported) || len(bare.sets) != 0 {
		t.Errorf("fallback reboot keeping power: %v, sets %v; want ErrUnsupported and nothing done", err, bare.sets)
	}
	again, _ := r.Power("fake", drivers.Node{UUID: "m", PowerState: drivers.PowerOff})
	if s, err := again.PowerState(ctx); err != nil || s != drivers.PowerOn {
		t.Errorf("after reboot a new instance reads %q, %v; want power on", s, err)
	}

	v := r.Validate(map[drivers.Kind]string{drivers.KindPower: "fake", drivers.KindManagement: "fake",
		drivers.KindDeploy: "fake", drivers.KindVendor: "fake"}, drivers.Node{UUID: "n"})
	for k, err := range v {
		if err != nil {
			t.Errorf("validate %s: %v", k, err)
		}
	}
}

// onOff is a power interface that can only power on and off (no reboot of
// its own); it records what it was asked.
type onOff struct{ sets []drivers.PowerState }

func (p *onOff) PowerState(context.Context) (drivers.PowerState, error) { return drivers.PowerOn, nil }

func (p *onOff) SetPowerState(_ context.Context, s drivers.PowerState) error {
	p.sets = append(p.sets, s)
	return nil
}
