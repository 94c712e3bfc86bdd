package drivers

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
)

// Kind names an Ironic hardware interface kind (the prefix of a node's
// "<kind>_interface" field).
type Kind string

// Interface kinds, in Ironic's order.
const (
	KindBios       Kind = "bios"
	KindBoot       Kind = "boot"
	KindConsole    Kind = "console"
	KindDeploy     Kind = "deploy"
	KindFirmware   Kind = "firmware"
	KindInspect    Kind = "inspect"
	KindManagement Kind = "management"
	KindNetwork    Kind = "network"
	KindPower      Kind = "power"
	KindRAID       Kind = "raid"
	KindRescue     Kind = "rescue"
	KindStorage    Kind = "storage"
	KindVendor     Kind = "vendor"
)

// Kinds lists every interface kind in Ironic's order.
func Kinds() []Kind {
	return []Kind{KindBios, KindBoot, KindConsole, KindDeploy, KindFirmware, KindInspect,
		KindManagement, KindNetwork, KindPower, KindRAID, KindRescue, KindStorage, KindVendor}
}

// HardwareType is a named composition of interfaces (Ironic's hardware type,
// shown as a node's "driver").
type HardwareType struct {
	Name string
	// Interfaces lists, per kind, the interface names this type supports; the
	// first is the default. Every kind must be present.
	Interfaces map[Kind][]string
	// Properties documents driver_info keys (GET /v1/drivers/{name}/properties).
	Properties map[string]string
	// InMemory says every call of this type's interfaces is short and does no
	// network I/O (the fake type): workflows may run them as local activities.
	InMemory bool
}

// Factory builds an interface implementation for a node. It validates
// driver_info and must not do I/O.
type Factory[T any] func(n Node) (T, error)

// Registry knows hardware types and interface implementations. It is built in
// main at worker (and API) start and passed down; there is no global registry.
type Registry struct {
	mu    sync.RWMutex
	types map[string]HardwareType
	// factories holds, per kind, the named implementations; each entry wraps
	// a Factory of that kind's interface type (see register).
	factories map[Kind]map[string]func(Node) (any, error)
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{types: map[string]HardwareType{}, factories: map[Kind]map[string]func(Node) (any, error){}}
}

// AddType registers a hardware type. Registering a name twice is a
// programming error and panics at startup.
func (r *Registry) AddType(t HardwareType) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.types[t.Name]; dup {
		panic("drivers: hardware type registered twice: " + t.Name)
	}
	for _, k := range Kinds() {
		if len(t.Interfaces[k]) == 0 {
			panic(fmt.Sprintf("drivers: hardware type %s has no %s interface", t.Name, k))
		}
	}
	r.types[t.Name] = t
}

func register[T any](r *Registry, kind Kind, name string, f Factory[T]) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.factories[kind]
	if m == nil {
		m = map[string]func(Node) (any, error){}
		r.factories[kind] = m
	}
	if _, dup := m[name]; dup {
		panic(fmt.Sprintf("drivers: %s interface registered twice: %s", kind, name))
	}
	m[name] = func(n Node) (any, error) { return f(n) }
}

// AddPower registers a power interface implementation.
func (r *Registry) AddPower(name string, f Factory[Power]) { register(r, KindPower, name, f) }

// AddManagement registers a management interface implementation.
func (r *Registry) AddManagement(name string, f Factory[Management]) {
	register(r, KindManagement, name, f)
}

// AddDeploy registers a deploy interface implementation.
func (r *Registry) AddDeploy(name string, f Factory[Deploy]) {
	register(r, KindDeploy, name, f)
}

// AddVendor registers a vendor interface implementation.
func (r *Registry) AddVendor(name string, f Factory[Vendor]) {
	register(r, KindVendor, name, f)
}

// AddInspect registers an inspect interface implementation.
func (r *Registry) AddInspect(name string, f Factory[Inspector]) {
	register(r, KindInspect, name, f)
}

// AddRAID registers a RAID interface implementation.
func (r *Registry) AddRAID(name string, f Factory[RAID]) { register(r, KindRAID, name, f) }

// AddBIOS registers a BIOS interface implementation.
func (r *Registry) AddBIOS(name string, f Factory[BIOS]) { register(r, KindBios, name, f) }

// AddFirmware registers a firmware interface implementation.
func (r *Registry) AddFirmware(name string, f Factory[Firmware]) {
	register(r, KindFirmware, name, f)
}

// AddRescue registers a rescue interface implementation.
func (r *Registry) AddRescue(name string, f Factory[Rescuer]) {
	register(r, KindRescue, name, f)
}

// Type returns a hardware type by name.
func (r *Registry) Type(name string) (HardwareType, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	t, ok := r.types[name]
	if !ok {
		return HardwareType{}, fmt.Errorf("%w: %q", ErrUnknownDriver, name)
	}
	return t, nil
}

// Types returns every hardware type, sorted by name.
func (r *Registry) Types() []HardwareType {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]HardwareType, 0, len(r.types))
	for _, t := range r.types {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ResolveInterfaces fills the defaults of hwType for kinds that requested
// leaves empty, and checks that every requested name is supported. It returns
// an error wrapping ErrUnknownDriver or ErrBadConfig with a message for humans.
func (r *Registry) ResolveInterfaces(hwType string, requested map[Kind]string) (map[Kind]string, error) {
	t, err := r.Type(hwType)
	if err != nil {
		return nil, err
	}
	out := make(map[Kind]string, len(t.Interfaces))
	for _, k := range Kinds() {
		name := requested[k]
		if name == "" {
			out[k] = t.Interfaces[k][0]
			continue
		}
		if !slices.Contains(t.Interfaces[k], name) {
			return nil, fmt.Errorf("%w: could not find a suitable %s interface %q for hardware type %q; supported: %v",
				ErrBadConfig, k, name, hwType, t.Interfaces[k])
		}
		out[k] = name
	}
	return out, nil
}

// build returns the named interface of kind for n as the kind's type T.
func build[T any](r *Registry, kind Kind, name string, n Node) (T, error) {
	v, err := r.Interface(kind, name, n)
	t, _ := v.(T)
	return t, err
}

// Power builds the named power interface for n.
func (r *Registry) Power(name string, n Node) (Power, error) {
	return build[Power](r, KindPower, name, n)
}

// Management builds the named management interface for n.
func (r *Registry) Management(name string, n Node) (Management, error) {
	return build[Management](r, KindManagement, name, n)
}

// Deploy builds the named deploy interface for n.
func (r *Registry) Deploy(name string, n Node) (Deploy, error) {
	return build[Deploy](r, KindDeploy, name, n)
}

// Vendor builds the named vendor interface for n.
func (r *Registry) Vendor(name string, n Node) (Vendor, error) {
	return build[Vendor](r, KindVendor, name, n)
}

// Inspect builds the named inspect interface for n.
func (r *Registry) Inspect(name string, n Node) (Inspector, error) {
	return build[Inspector](r, KindInspect, name, n)
}

// RAID builds the named RAID interface for n. A name with no
// implementation ("no-raid") is ErrUnsupported.
func (r *Registry) RAID(name string, n Node) (RAID, error) {
	return build[RAID](r, KindRAID, name, n)
}

// BIOS builds the named BIOS interface for n. A name with no implementation
// ("no-bios") is ErrUnsupported.
func (r *Registry) BIOS(name string, n Node) (BIOS, error) {
	return build[BIOS](r, KindBios, name, n)
}

// Firmware builds the named firmware interface for n. A name with no
// implementation ("no-firmware") is ErrUnsupported.
func (r *Registry) Firmware(name string, n Node) (Firmware, error) {
	return build[Firmware](r, KindFirmware, name, n)
}

// Interface builds the named interface of kind k for n, for the kinds that
// have implementations; ErrUnsupported for the others and for names
// without one.
func (r *Registry) Interface(k Kind, name string, n Node) (any, error) {
	r.mu.RLock()
	f, ok := r.factories[k][name]
	r.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: no %s interface %q", ErrUnsupported, k, name)
	}
	v, err := f(n)
	if err != nil {
		return nil, fmt.Errorf("%w: %s interface %s: %w", ErrBadConfig, k, name, err)
	}
	return v, nil
}

// NodeSteps returns the clean, deploy and service steps of a node's interfaces
// (ifaces by kind, resolved), in StepKinds order. A kind whose interface
// has no implementation (no-raid, no-bios) or offers no steps adds none;
// a deploy interface that cannot be built (bad driver_info) is an error.
// When the deploy interface runs steps itself, the in-band steps of the
// other interfaces are left out (see StepCatalog.RunsSteps).
func (r *Registry) NodeSteps(ifaces map[Kind]string, n Node) (StepCatalog, error) {
	var c StepCatalog
	d, err := r.Deploy(ifaces[KindDeploy], n)
	if err != nil {
		return c, err
	}
	_, c.RunsSteps = d.(StepRunner)
	// impl is kind k's implementation, built once (a factory parses
	// driver_info); ok is false for a kind with none.
	type built struct {
		i  any
		ok bool
	}
	cache := map[Kind]built{KindDeploy: {d, true}}
	impl := func(k Kind) (any, bool, error) {
		if b, seen := cache[k]; seen {
			return b.i, b.ok, nil
		}
		i, err := r.Interface(k, ifaces[k], n)
		if err != nil && !errors.Is(err, ErrUnsupported) {
			return nil, false, err
		}
		cache[k] = built{i, err == nil}
		return i, err == nil, nil
	}
	// An implementation may serve several kinds (the fake's node is its
	// power, management and deploy interface): each kind keeps its own
	// steps, and leaves its in-band ones to a deploy interface that runs
	// steps itself.
	keep := func(k Kind, steps []Step, into *[]Step) {
		for _, s := range steps {
			if s.Interface == k && (k == KindDeploy || !c.RunsSteps || !s.InBand) {
				*into = append(*into, s)
			}
		}
	}
	for _, k := range StepKinds() {
		i, ok, err := impl(k)
		if err != nil {
			return c, err
		}
		if st, isStepper := i.(Stepper); ok && isStepper {
			keep(k, st.CleanSteps(), &c.Clean)
			keep(k, st.DeploySteps(), &c.Deploy)
		}
	}
	for _, k := range ServiceKinds() {
		i, ok, err := impl(k)
		if err != nil {
			return c, err
		}
		if st, isStepper := i.(ServiceStepper); ok && isStepper {
			keep(k, st.ServiceSteps(), &c.Service)
		}
	}
	return c, nil
}

// Rescue builds the named rescue interface for n. ErrUnsupported for a
// name with no implementation ("no-rescue").
func (r *Registry) Rescue(name string, n Node) (Rescuer, error) {
	return build[Rescuer](r, KindRescue, name, n)
}

// Validate checks a node's configuration for each kind that has an
// implementation (power, management, deploy, vendor), without I/O. A nil
// error means the interface would be usable. Kinds with no implementation
// registered ("noop", "fake" placeholders) validate as nil.
func (r *Registry) Validate(ifaces map[Kind]string, n Node) map[Kind]error {
	out := map[Kind]error{}
	for _, k := range Kinds() {
		var err error
		switch k {
		case KindPower, KindManagement, KindDeploy, KindVendor:
			_, err = r.Interface(k, ifaces[k], n)
		}
		out[k] = err
	}
	return out
}
