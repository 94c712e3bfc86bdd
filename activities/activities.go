// Package activities adapts drivers and the store to Temporal activities. Each
// method loads what it needs by node UUID (credentials never travel in
// workflow payloads), makes one driver or store call, heartbeats while it
// polls, and maps errors onto stable, documented error types. It makes no
// provisioning decisions: the state machine lives in package workflows.
package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/inspection/rules"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows/contract"
)

// NodeStore is what the activities need of the store; *store.Store satisfies it.
type NodeStore interface {
	Node(ctx context.Context, ident string) (store.Node, error)
	Transition(ctx context.Context, r store.TransitionRequest) (store.Node, error)
	SetPower(ctx context.Context, u store.PowerUpdate) (store.Node, error)
	NodesInProgress(ctx context.Context, q store.InProgressQuery) ([]store.NodeRef, error)
}

// DriverSource builds driver interfaces; *drivers.Registry satisfies it.
type DriverSource interface {
	Type(name string) (drivers.HardwareType, error)
	Power(name string, n drivers.Node) (drivers.Power, error)
	Management(name string, n drivers.Node) (drivers.Management, error)
	Deploy(name string, n drivers.Node) (drivers.Deploy, error)
	Vendor(name string, n drivers.Node) (drivers.Vendor, error)
	Inspect(name string, n drivers.Node) (drivers.Inspector, error)
	Interface(k drivers.Kind, name string, n drivers.Node) (any, error)
	NodeSteps(ifaces map[drivers.Kind]string, n drivers.Node) (drivers.StepCatalog, error)
	Rescue(name string, n drivers.Node) (drivers.Rescuer, error)
}

// Activities holds the dependencies of every activity. Its exported method
// names are activity type names: unique, never renamed without
// workflow.GetVersion.
type Activities struct {
	Drivers DriverSource
	Nodes   NodeStore
	// Conductor names this worker (its Temporal identity) on the nodes
	// whose provision state its operations move ("" = not recorded).
	Conductor string
	// PollInterval is the pause between power state reads while waiting for a
	// BMC to reach a target (default 1 s).
	PollInterval time.Duration
	// Agents holds the ramdisk agent sessions (the agent activities fail
	// without it).
	Agents AgentStore
	// ReconcileIdle is how long a node in progress must have gone unwritten
	// before the reconciler checks it (0: DefaultReconcileIdle; negative:
	// at once, for tests).
	ReconcileIdle time.Duration
	// Inspection stores inventories and applies them (nil: inspection
	// fails).
	Inspection InspectStore
	// InspectAddPorts is which NICs inspection makes ports of: "all",
	// "active" (with an IP address), "pxe" (the NIC the node booted from;
	// the default, as Ironic's [inspector]add_ports) or "disabled".
	InspectAddPorts string
	// InspectionRules is how inspection runs its rules: the secrets mask
	// and the built-in rules (Ironic's [inspection_rules]).
	InspectionRules rules.Config
	// Operations holds the operation records (what a request gave beyond
	// its verb: config drive, steps); nil: operations with a record fail.
	Operations OperationStore
	// AgentPollInterval is the pause between reads of an agent command's
	// result (default 500 ms).
	AgentPollInterval time.Duration
	// AgentHeartbeatTimeout fails a running agent command when the agent has
	// not heartbeaten for this long (default 5 min).
	AgentHeartbeatTimeout time.Duration
	// Allocations holds the allocations (the allocation activities fail
	// without it).
	Allocations AllocationStore
	// CallbackTimeout bounds how long an operation waits for the ramdisk
	// agent to call back (deploy, clean and inspect wait; Ironic's
	// deploy_callback_timeout). 0: the workflows' default (30 min).
	CallbackTimeout time.Duration
	// Results records what RAID and BIOS steps changed (nil: such steps
	// fail).
	Results StepResultStore
	// DriverCalls is told of every driver call (nil: nobody).
	DriverCalls DriverCallObserver
	// Media records the virtual media attached to nodes (nil: virtual
	// media calls fail).
	Media MediaStore
}

// DriverCallObserver is told of every driver call an activity makes: the
// node's hardware type, the call ("power.set_power_state"), how long it took
// and its error. main hands it the process's metrics.
type DriverCallObserver interface {
	ObserveDriverCall(driver, call string, took time.Duration, err error)
}

// timeCall starts timing a driver call, and a span for it under the
// activity's (the tracer of the span in ctx: none when tracing is off); the
// function it returns records the call with its error and ends the span.
func timeCall(ctx context.Context, o DriverCallObserver, driver, call string) func(error) {
	_, span := trace.SpanFromContext(ctx).TracerProvider().Tracer("ferric/drivers").Start(ctx, "driver "+call,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("ferric.driver", driver), attribute.String("ferric.driver_call", call)))
	start := time.Now()
	return func(err error) {
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
		if o != nil {
			o.ObserveDriverCall(driver, call, time.Since(start), err)
		}
	}
}

// call is timeCall with the activities' observer.
func (a *Activities) call(ctx context.Context, driver, call string) func(error) {
	return timeCall(ctx, a.DriverCalls, driver, call)
}

// NodeInfo is what a workflow may know of a node: no secrets.
type NodeInfo struct {
	UUID           string              `json:"uuid"`
	ProvisionState node.ProvisionState `json:"provision_state"`
	PowerState     node.PowerState     `json:"power_state"`
	Maintenance    bool                `json:"maintenance"`
	// Version, TargetProvisionState and TargetPowerState let a workflow
	// started by a background pass (power sync, reconciler) check, under the
	// node lock, that nothing changed since the pass read the node.
	Version              int64               `json:"version,omitempty"`
	TargetProvisionState node.ProvisionState `json:"target_provision_state,omitempty"`
	TargetPowerState     node.PowerState     `json:"target_power_state,omitempty"`
	// InMemory is true when the node's hardware type does no I/O, so its
	// driver calls may run as local activities.
	InMemory bool `json:"in_memory"`
	// Retired: the node is retired (cleaning ends in manageable).
	Retired bool `json:"retired,omitempty"`
	// CallbackTimeoutSeconds is the worker's bound on a wait for the agent
	// (0: the workflow's default).
	CallbackTimeoutSeconds int `json:"callback_timeout_seconds,omitempty"`
	// DisablePowerOff: the node is never powered off (API 1.95).
	DisablePowerOff bool `json:"disable_power_off,omitempty"`
}

// LoadNode returns the workflow-visible facts of a node.
func (a *Activities) LoadNode(ctx context.Context, uuid string) (NodeInfo, error) {
	n, err := a.Nodes.Node(ctx, uuid)
	if err != nil {
		return NodeInfo{}, classify(fmt.Errorf("load node %s: %w", uuid, err))
	}
	info := NodeInfo{UUID: n.UUID, ProvisionState: n.ProvisionState, PowerState: n.PowerState,
		Maintenance: n.Maintenance, Version: n.Version, TargetProvisionState: n.TargetProvisionState,
		TargetPowerState: n.TargetPowerState, Retired: n.Retired, DisablePowerOff: n.DisablePowerOff,
		CallbackTimeoutSeconds: int(a.CallbackTimeout / time.Second)}
	if t, err := a.Drivers.Type(n.Driver); err == nil {
		info.InMemory = t.InMemory
	}
	return info, nil
}

// TransitionInput moves a node between provision states (compare-and-set).
type TransitionInput struct {
	UUID       string                `json:"uuid"`
	From       []node.ProvisionState `json:"from"`
	To         node.ProvisionState   `json:"to"`
	Target     node.ProvisionState   `json:"target,omitempty"`
	LastError  *string               `json:"last_error,omitempty"`
	PowerState *node.PowerState      `json:"power_state,omitempty"`
	// ClearInstance empties instance_info and instance_uuid (undeploy).
	ClearInstance bool            `json:"clear_instance,omitempty"`
	DeployStep    json.RawMessage `json:"deploy_step,omitempty"`
	CleanStep     json.RawMessage `json:"clean_step,omitempty"`
	ServiceStep   json.RawMessage `json:"service_step,omitempty"`
	Event         string          `json:"event,omitempty"`
	Error         bool            `json:"error,omitempty"`
	// InspectionStarted and InspectionFinished stamp
	// inspection_started_at / inspection_finished_at.
	InspectionStarted  bool `json:"inspection_started,omitempty"`
	InspectionFinished bool `json:"inspection_finished,omitempty"`
	// DropRescuePassword removes the rescue password from instance_info.
	DropRescuePassword bool `json:"drop_rescue_password,omitempty"`
	// User and Project name who asked for the operation (recorded on the
	// history event; "" = nobody).
	User    string `json:"user,omitempty"`
	Project string `json:"project,omitempty"`
}

// RescuePasswordKeys are the instance_info members holding a node's
// rescue password (Ironic's rescue_password and hashed_rescue_password).
func RescuePasswordKeys() []string { return []string{"rescue_password", "hashed_rescue_password"} }

// TransitionNode persists a provision state change and appends it to the
// node's history. A retry whose first attempt committed succeeds.
func (a *Activities) TransitionNode(ctx context.Context, in TransitionInput) (node.ProvisionState, error) {
	r := store.TransitionRequest{UUID: in.UUID, From: in.From, To: in.To, Target: in.Target,
		LastError: in.LastError, PowerState: in.PowerState, DeployStep: in.DeployStep,
		CleanStep: in.CleanStep, ServiceStep: in.ServiceStep, Event: in.Event, Error: in.Error,
		InspectionStarted: in.InspectionStarted, InspectionFinished: in.InspectionFinished,
		User: in.User, Project: in.Project, Conductor: a.Conductor}
	if activity.IsActivity(ctx) {
		// Deterministic across retries and replays (local activity IDs are
		// sequence numbers within the run), unique across runs.
		info := activity.GetInfo(ctx)
		r.RequestID = info.WorkflowExecution.RunID + "/" + info.ActivityID
	}
	if in.DropRescuePassword {
		r.RemoveInstanceKeys = RescuePasswordKeys()
	}
	if in.ClearInstance {
		empty := ""
		r.InstanceInfo = json.RawMessage(`{}`)
		r.InstanceUUID = &empty
		r.DropConfigDrives = true
	}
	n, err := a.Nodes.Transition(ctx, r)
	if err != nil {
		return "", classify(fmt.Errorf("transition node %s to %s: %w", in.UUID, in.To, err))
	}
	return n.ProvisionState, nil
}

// RecordPowerInput records power state facts on a node.
type RecordPowerInput struct {
	UUID       string           `json:"uuid"`
	PowerState *node.PowerState `json:"power_state,omitempty"`
	Target     *node.PowerState `json:"target,omitempty"` // pointer to "" clears
	LastError  *string          `json:"last_error,omitempty"`
	Event      string           `json:"event,omitempty"`
	Error      bool             `json:"error,omitempty"`
	// User and Project name who asked (recorded on the event).
	User    string `json:"user,omitempty"`
	Project string `json:"project,omitempty"`
}

// RecordPower writes power_state / target_power_state / last_error.
func (a *Activities) RecordPower(ctx context.Context, in RecordPowerInput) error {
	_, err := a.Nodes.SetPower(ctx, store.PowerUpdate{UUID: in.UUID, PowerState: in.PowerState,
		Target: in.Target, LastError: in.LastError, Event: in.Event, Error: in.Error,
		User: in.User, Project: in.Project})
	if err != nil {
		return classify(fmt.Errorf("record power of node %s: %w", in.UUID, err))
	}
	return nil
}

// loaded is a node's record plus its configuration as drivers see it.
type loaded struct {
	rec store.Node
	dn  drivers.Node
}

func (a *Activities) load(ctx context.Context, uuid string) (loaded, error) {
	n, err := a.Nodes.Node(ctx, uuid)
	if err != nil {
		return loaded{}, fmt.Errorf("load node %s: %w", uuid, err)
	}
	if n.SealedSecrets() {
		return loaded{}, fmt.Errorf("driver_info of node %s holds secrets sealed with a key this worker's "+
			"-secrets-key-file does not have: %w", uuid, drivers.ErrBadConfig)
	}
	return loaded{rec: n, dn: n.DriverNode()}, nil
}

// power builds the node's power interface; driver is its hardware type,
// keepPower the node's disable_power_off.
func (a *Activities) power(ctx context.Context, uuid string) (p drivers.Power, driver string, keepPower bool, err error) {
	l, err := a.load(ctx, uuid)
	if err != nil {
		return nil, "", false, err
	}
	p, err = a.Drivers.Power(l.rec.Interfaces.Power, l.dn)
	return p, l.rec.Driver, l.dn.DisablePowerOff, err
}

// ReadPowerState asks the node's power interface for its state.
func (a *Activities) ReadPowerState(ctx context.Context, uuid string) (node.PowerState, error) {
	p, driver, _, err := a.power(ctx, uuid)
	if err != nil {
		return "", classify(err)
	}
	done := a.call(ctx, driver, "power.get_power_state")
	s, err := p.PowerState(ctx)
	done(err)
	if err != nil {
		return "", classify(fmt.Errorf("read power state of node %s: %w", uuid, err))
	}
	return node.PowerState(s), nil
}

// SetPowerInput asks for a power action.
type SetPowerInput struct {
	UUID           string          `json:"uuid"`
	Target         node.PowerState `json:"target"`
	TimeoutSeconds int             `json:"timeout_seconds,omitempty"`
}

// ChangePowerState performs a power action and waits until the BMC reports
// the resulting state, heartbeating while it polls. It returns the state
// reached (power on or power off).
func (a *Activities) ChangePowerState(ctx context.Context, in SetPowerInput) (node.PowerState, error) {
	p, driver, keepPower, err := a.power(ctx, in.UUID)
	if err != nil {
		return "", classify(err)
	}
	timeout := time.Duration(in.TimeoutSeconds) * time.Second
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	want := drivers.PowerOn
	switch in.Target {
	case node.PowerOn:
		done := a.call(ctx, driver, "power.set_power_state")
		err = p.SetPowerState(ctx, drivers.PowerOn)
		done(err)
	case node.PowerOff:
		want = drivers.PowerOff
		done := a.call(ctx, driver, "power.set_power_state")
		err = p.SetPowerState(ctx, drivers.PowerOff)
		done(err)
	case node.Rebooting:
		done := a.call(ctx, driver, "power.reboot")
		err = drivers.Reboot(ctx, p, keepPower)
		done(err)
	case node.SoftPowerOff, node.SoftRebooting:
		sp, ok := p.(drivers.SoftPower)
		if !ok {
			return "", classify(fmt.Errorf("%s on node %s: %w", in.Target, in.UUID, drivers.ErrUnsupported))
		}
		if in.Target == node.SoftPowerOff {
			want = drivers.PowerOff
			done := a.call(ctx, driver, "power.soft_power_off")
			err = sp.SoftPowerOff(ctx, timeout)
			done(err)
		} else {
			done := a.call(ctx, driver, "power.soft_reboot")
			err = sp.SoftReboot(ctx, timeout)
			done(err)
		}
	default:
		return "", temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("unknown power target %q", in.Target), contract.ErrTypeUnsupported, nil)
	}
	if err != nil {
		return "", classify(fmt.Errorf("%s node %s: %w", in.Target, in.UUID, err))
	}
	every := a.PollInterval
	if every == 0 {
		every = time.Second
	}
	deadline := time.Now().Add(timeout)
	for poll := 1; ; poll++ {
		done := a.call(ctx, driver, "power.get_power_state")
		got, err := p.PowerState(ctx)
		done(err)
		if err != nil {
			return "", classify(fmt.Errorf("read power state of node %s: %w", in.UUID, err))
		}
		if got == want {
			return node.PowerState(got), nil
		}
		if time.Now().After(deadline) {
			return "", temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("node %s did not reach %q within %s (still %q)", in.UUID, want, timeout, got),
				contract.ErrTypeDriverFailed, nil)
		}
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, poll)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(every):
		}
	}
}

// BootDeviceInput sets a node's boot device.
type BootDeviceInput struct {
	UUID       string             `json:"uuid"`
	Device     drivers.BootDevice `json:"device"`
	Persistent bool               `json:"persistent"`
}

// management builds the node's management interface; driver is its
// hardware type.
func (a *Activities) management(ctx context.Context, uuid string) (m drivers.Management, driver string, err error) {
	l, err := a.load(ctx, uuid)
	if err != nil {
		return nil, "", err
	}
	m, err = a.Drivers.Management(l.rec.Interfaces.Management, l.dn)
	return m, l.rec.Driver, err
}

// SetBootDevice sets the boot device through the management interface.
func (a *Activities) SetBootDevice(ctx context.Context, in BootDeviceInput) error {
	m, driver, err := a.management(ctx, in.UUID)
	if err != nil {
		return classify(err)
	}
	done := a.call(ctx, driver, "management.set_boot_device")
	err = m.SetBootDevice(ctx, in.Device, in.Persistent)
	done(err)
	if err != nil {
		return classify(fmt.Errorf("set boot device %s on node %s: %w", in.Device, in.UUID, err))
	}
	return nil
}

// BootDeviceInfo is the boot device as the BMC reports it.
type BootDeviceInfo struct {
	Device     drivers.BootDevice   `json:"device"`
	Persistent bool                 `json:"persistent"`
	Supported  []drivers.BootDevice `json:"supported,omitempty"`
}

// ReadBootDevice reads the current boot device and the supported ones.
func (a *Activities) ReadBootDevice(ctx context.Context, uuid string) (BootDeviceInfo, error) {
	m, driver, err := a.management(ctx, uuid)
	if err != nil {
		return BootDeviceInfo{}, classify(err)
	}
	done := a.call(ctx, driver, "management.get_boot_device")
	dev, persistent, err := m.BootDevice(ctx)
	done(err)
	if err != nil {
		return BootDeviceInfo{}, classify(fmt.Errorf("read boot device of node %s: %w", uuid, err))
	}
	done = a.call(ctx, driver, "management.get_supported_boot_devices")
	sup, err := m.SupportedBootDevices(ctx)
	done(err)
	if err != nil {
		return BootDeviceInfo{}, classify(fmt.Errorf("read supported boot devices of node %s: %w", uuid, err))
	}
	return BootDeviceInfo{Device: dev, Persistent: persistent, Supported: sup}, nil
}

// deploy builds the node's deploy interface; driver is its hardware type.
func (a *Activities) deploy(ctx context.Context, uuid string) (d drivers.Deploy, driver string, err error) {
	l, err := a.load(ctx, uuid)
	if err != nil {
		return nil, "", err
	}
	d, err = a.Drivers.Deploy(l.rec.Interfaces.Deploy, l.dn)
	return d, l.rec.Driver, err
}

// DeployImage asks the deploy interface to put the instance image in place.
// It returns true when the image is written, false when the node now boots a
// ramdisk whose agent will call back.
func (a *Activities) DeployImage(ctx context.Context, uuid string) (bool, error) {
	d, driver, err := a.deploy(ctx, uuid)
	if err != nil {
		return false, classify(err)
	}
	called := a.call(ctx, driver, "deploy.deploy")
	done, err := d.Deploy(ctx)
	called(err)
	if err != nil {
		return false, classify(fmt.Errorf("deploy node %s: %w", uuid, err))
	}
	return done, nil
}

// TearDownInstance asks the deploy interface to remove the instance.
func (a *Activities) TearDownInstance(ctx context.Context, uuid string) error {
	d, driver, err := a.deploy(ctx, uuid)
	if err != nil {
		return classify(err)
	}
	called := a.call(ctx, driver, "deploy.tear_down")
	err = d.TearDown(ctx)
	called(err)
	if err != nil {
		return classify(fmt.Errorf("tear down node %s: %w", uuid, err))
	}
	return nil
}

// CleanDisks runs automated cleaning through the deploy interface.
func (a *Activities) CleanDisks(ctx context.Context, uuid string) (bool, error) {
	d, driver, err := a.deploy(ctx, uuid)
	if err != nil {
		return false, classify(err)
	}
	called := a.call(ctx, driver, "deploy.clean")
	done, err := d.Clean(ctx)
	called(err)
	if err != nil {
		return false, classify(fmt.Errorf("clean node %s: %w", uuid, err))
	}
	return done, nil
}

// VendorInput is one vendor passthru call; Args are opaque.
type VendorInput struct {
	UUID   string          `json:"uuid"`
	Method string          `json:"method"`
	Args   json.RawMessage `json:"args,omitempty"`
}

// CallVendorMethod runs a vendor passthru method and returns its reply
// unaltered.
func (a *Activities) CallVendorMethod(ctx context.Context, in VendorInput) (json.RawMessage, error) {
	l, err := a.load(ctx, in.UUID)
	if err != nil {
		return nil, classify(err)
	}
	v, err := a.Drivers.Vendor(l.rec.Interfaces.Vendor, l.dn)
	if err != nil {
		return nil, classify(err)
	}
	called := a.call(ctx, l.rec.Driver, "vendor.passthru")
	out, err := v.CallVendor(ctx, in.Method, in.Args)
	called(err)
	if err != nil {
		return nil, classify(fmt.Errorf("vendor method %s on node %s: %w", in.Method, in.UUID, err))
	}
	return out, nil
}

// classify makes permanent failures non-retryable with a stable type; other
// errors (unreachable BMC, timeouts, database hiccups) are left to the retry
// policy.
func classify(err error) error {
	var typ string
	switch {
	case err == nil:
		return nil
	case errors.Is(err, drivers.ErrBadConfig), errors.Is(err, drivers.ErrUnknownDriver):
		typ = contract.ErrTypeBadDriver
	case errors.Is(err, drivers.ErrAuth):
		typ = contract.ErrTypeBMCAuth
	case errors.Is(err, drivers.ErrUnsupported):
		typ = contract.ErrTypeUnsupported
	case errors.Is(err, drivers.ErrFailed):
		typ = contract.ErrTypeDriverFailed
	case errors.Is(err, store.ErrNotFound):
		typ = contract.ErrTypeNotFound
	case errors.Is(err, store.ErrInvalidState):
		typ = contract.ErrTypeInvalidState
	case errors.Is(err, store.ErrConflict):
		typ = contract.ErrTypeConflict
	default:
		return err
	}
	return temporal.NewNonRetryableApplicationError(err.Error(), typ, err)
}
