package activities

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/ferric-project/ferric/agent/wire"
	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/drivers/deploy/configdrive"
	"github.com/ferric-project/ferric/drivers/raid"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows/contract"
)

// OperationStore reads operation records; *store.Store satisfies it.
type OperationStore interface {
	Operation(ctx context.Context, id string) (store.Operation, error)
}

// StepKind says which of a request's step lists a step belongs to.
type StepKind string

// Step kinds.
const (
	CleanSteps   StepKind = "clean"
	DeploySteps  StepKind = "deploy"
	ServiceSteps StepKind = "service"
)

// StepRef names one step without its arguments, which stay in the store: a
// step of the node's interfaces (UserIndex -1), one the request gave (its
// index in the request's list) or one of the deploy templates the request
// matched (FromTemplate: its index in the operation's template steps).
type StepRef struct {
	Interface    string `json:"interface"`
	Name         string `json:"step"`
	Priority     int    `json:"priority"`
	UserIndex    int    `json:"user_index"`
	FromTemplate bool   `json:"from_template,omitempty"`
	InBand       bool   `json:"in_band,omitempty"`
	Core         bool   `json:"core,omitempty"`
}

// ID names the step as Ironic does: "<interface>.<step>".
func (s StepRef) ID() string { return s.Interface + "." + s.Name }

// OperationFactsInput selects the facts an operation's workflow plans with.
type OperationFactsInput struct {
	UUID        string   `json:"uuid"`
	OperationID string   `json:"operation_id,omitempty"`
	Kind        StepKind `json:"kind"`
}

// OperationFacts are the steps an operation runs; no user data: arguments
// and the config drive stay in the store.
type OperationFacts struct {
	// Catalog lists the Kind steps the node's interfaces offer.
	Catalog []StepRef `json:"catalog,omitempty"`
	// User lists the request's Kind steps, in the request's order.
	User []StepRef `json:"user,omitempty"`
	// RunsSteps says the deploy interface runs steps itself (in memory);
	// otherwise in-band steps go to the ramdisk agent.
	RunsSteps bool `json:"runs_steps,omitempty"`
	// HasConfigDrive says the request gave a config drive.
	HasConfigDrive bool `json:"has_config_drive,omitempty"`
	// Plan is what the workflow runs, in order (see Plan). Planned says it
	// was computed: facts recorded before plans existed leave the
	// workflow to plan from Catalog and User as it did.
	Plan    []StepRef `json:"plan,omitempty"`
	Planned bool      `json:"planned,omitempty"`
}

// userStep is the part of a request's or a template's step this package
// reads.
type userStep struct {
	Interface string          `json:"interface"`
	Step      string          `json:"step"`
	Args      json.RawMessage `json:"args"`
	Priority  json.RawMessage `json:"priority"`
}

// OperationFacts returns the steps the node's interfaces offer, the
// operation record's steps (without arguments) of in.Kind, and the plan:
// the steps the operation runs, in order (see Plan).
func (a *Activities) OperationFacts(ctx context.Context, in OperationFactsInput) (OperationFacts, error) {
	l, err := a.load(ctx, in.UUID)
	if err != nil {
		return OperationFacts{}, classify(err)
	}
	cat, err := a.Drivers.NodeSteps(l.rec.Interfaces.ByKind(), l.dn)
	if err != nil {
		return OperationFacts{}, classify(err)
	}
	f := OperationFacts{RunsSteps: cat.RunsSteps}
	catalog := cat.Deploy
	switch in.Kind {
	case CleanSteps:
		catalog = cat.Clean
	case ServiceSteps:
		catalog = cat.Service
	}
	for _, s := range catalog {
		f.Catalog = append(f.Catalog, StepRef{Interface: string(s.Interface), Name: s.Name, Priority: s.Priority,
			UserIndex: -1, InBand: s.InBand, Core: s.Core})
	}
	var templates []StepRef
	if in.OperationID != "" {
		op, err := a.operation(ctx, in.OperationID)
		if err != nil {
			return OperationFacts{}, err
		}
		f.HasConfigDrive = len(op.ConfigDrive) > 0 && string(op.ConfigDrive) != "null"
		steps, err := requestSteps(op, in.Kind)
		if err != nil {
			return OperationFacts{}, err
		}
		f.User = refs(steps, f.Catalog, false)
		if in.Kind == DeploySteps {
			tsteps, err := templateSteps(op)
			if err != nil {
				return OperationFacts{}, err
			}
			templates = refs(tsteps, f.Catalog, true)
		}
	}
	manual := (in.Kind == CleanSteps || in.Kind == ServiceSteps) && in.OperationID != ""
	if f.Plan, err = Plan(in.Kind, manual, f.Catalog, f.User, templates, f.RunsSteps); err != nil {
		return OperationFacts{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("node %s: %v", in.UUID, err), contract.ErrTypeInvalidState, nil)
	}
	f.Planned = true
	return f, nil
}

// refs names steps given by a request or a template, with what the catalog
// knows of them.
func refs(steps []userStep, catalog []StepRef, fromTemplate bool) []StepRef {
	out := make([]StepRef, 0, len(steps))
	for i, u := range steps {
		ref := StepRef{Interface: u.Interface, Name: u.Step, UserIndex: i, FromTemplate: fromTemplate}
		ref.Priority = u.priority()
		for _, c := range catalog {
			if c.ID() == ref.ID() {
				ref.InBand, ref.Core = c.InBand, c.Core
			}
		}
		out = append(out, ref)
	}
	return out
}

// priority reads a step's priority: a number or a numeric string (0 when
// absent).
func (u userStep) priority() int {
	text := strings.Trim(string(u.Priority), `"`)
	p, err := strconv.Atoi(text)
	if err != nil {
		return 0
	}
	return p
}

// ErrUnknownStep says a step to run is not among the node's interfaces'.
var ErrUnknownStep = errors.New("node does not support this step")

// Plan orders the steps an operation runs, as Ironic's conductor does:
//
//   - deploy (conductor/steps.py _get_all_deployment_steps): the request's
//     steps, then the templates' steps the request did not give; the
//     interfaces' steps with a priority above 0 unless one of those gives
//     them (priority 0 disables them); the given steps with a priority
//     above 0; by priority, then by interface (power, management, deploy,
//     BIOS, RAID), highest first, the order above breaking ties. When the
//     core deploy step is disabled on a node whose steps run on the
//     ramdisk agent, no agent boots and its (in-band) steps are left out,
//     as Ironic never learns an agent's steps then;
//   - manual cleaning (manual): the request's steps, in its order, with the
//     priority the interface gives them;
//   - automated cleaning: the interfaces' steps with a priority above 0,
//     ordered as deploy steps are;
//   - servicing (always manual): as manual cleaning.
//
// A given step that the catalog does not hold is ErrUnknownStep, except a
// step named as one of Ironic's conductor-level steps (drivers.ReservedSteps:
// hold, wait, power_on, power_off, reboot), which the workflow runs itself.
func Plan(kind StepKind, manual bool, catalog, user, templates []StepRef, runsSteps bool) ([]StepRef, error) {
	find := func(s StepRef) (StepRef, bool) {
		i := slices.IndexFunc(catalog, func(c StepRef) bool { return c.ID() == s.ID() })
		if i < 0 {
			return StepRef{}, false
		}
		return catalog[i], true
	}
	user, templates = slices.Clone(user), slices.Clone(templates)
	manualKind := (kind == CleanSteps || kind == ServiceSteps) && manual
	for _, list := range [][]StepRef{user, templates} {
		for i := range list {
			if (manualKind || kind == DeploySteps) && slices.Contains(drivers.ReservedSteps(), list[i].Name) {
				continue
			}
			c, ok := find(list[i])
			if !ok {
				return nil, fmt.Errorf("%w: %s step %s", ErrUnknownStep, kind, list[i].ID())
			}
			list[i].InBand, list[i].Core = c.InBand, c.Core
		}
	}
	if manualKind {
		plan := user
		for i := range plan {
			if c, ok := find(plan[i]); ok {
				plan[i].Priority = c.Priority
			}
		}
		return plan, nil
	}
	given := slices.Clone(user)
	for _, t := range templates {
		if !slices.ContainsFunc(given, func(u StepRef) bool { return u.ID() == t.ID() }) {
			given = append(given, t)
		}
	}
	var plan []StepRef
	for _, c := range catalog {
		if c.Priority > 0 && !slices.ContainsFunc(given, func(g StepRef) bool { return g.ID() == c.ID() }) {
			plan = append(plan, c)
		}
	}
	for _, g := range given {
		if g.Priority > 0 {
			plan = append(plan, g)
		}
	}
	slices.SortStableFunc(plan, func(a, b StepRef) int {
		if c := cmp.Compare(b.Priority, a.Priority); c != 0 {
			return c
		}
		return cmp.Compare(drivers.InterfacePriority(drivers.Kind(b.Interface)),
			drivers.InterfacePriority(drivers.Kind(a.Interface)))
	})
	if kind == DeploySteps && !runsSteps && !slices.ContainsFunc(plan, func(s StepRef) bool { return s.Core }) {
		plan = slices.DeleteFunc(plan, func(s StepRef) bool { return s.InBand })
	}
	return plan, nil
}

func (a *Activities) operation(ctx context.Context, id string) (store.Operation, error) {
	if a.Operations == nil {
		return store.Operation{}, temporal.NewNonRetryableApplicationError("this worker has no operation store",
			contract.ErrTypeUnsupported, nil)
	}
	op, err := a.Operations.Operation(ctx, id)
	if err != nil {
		return store.Operation{}, classify(fmt.Errorf("read operation %s: %w", id, err))
	}
	return op, nil
}

// requestSteps decodes an operation record's steps of kind.
func requestSteps(op store.Operation, kind StepKind) ([]userStep, error) {
	raw := op.DeploySteps
	switch kind {
	case CleanSteps:
		raw = op.CleanSteps
	case ServiceSteps:
		raw = op.ServiceSteps
	}
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var steps []userStep
	if err := json.Unmarshal(raw, &steps); err != nil {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("operation %s: %s steps are not readable: %v", op.ID, kind, err), contract.ErrTypeInvalidState, nil)
	}
	return steps, nil
}

// templateSteps decodes the deploy steps of the templates an operation
// matched.
func templateSteps(op store.Operation) ([]userStep, error) {
	if len(op.TemplateSteps) == 0 || string(op.TemplateSteps) == "null" {
		return nil, nil
	}
	var steps []userStep
	if err := json.Unmarshal(op.TemplateSteps, &steps); err != nil {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("operation %s: deploy template steps are not readable: %v", op.ID, err),
			contract.ErrTypeInvalidState, nil)
	}
	return steps, nil
}

// StepInput runs one step of an operation.
type StepInput struct {
	UUID        string   `json:"uuid"`
	OperationID string   `json:"operation_id,omitempty"`
	Kind        StepKind `json:"kind"`
	Step        StepRef  `json:"step"`
}

// stepArgs returns the arguments the request gave a step ({} when none).
func (a *Activities) stepArgs(ctx context.Context, in StepInput) (json.RawMessage, error) {
	if in.Step.UserIndex < 0 || in.OperationID == "" {
		return json.RawMessage(`{}`), nil
	}
	op, err := a.operation(ctx, in.OperationID)
	if err != nil {
		return nil, err
	}
	steps, err := requestSteps(op, in.Kind)
	if in.Step.FromTemplate {
		steps, err = templateSteps(op)
	}
	if err != nil {
		return nil, err
	}
	if in.Step.UserIndex >= len(steps) {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("operation %s has no %s step %d",
			in.OperationID, in.Kind, in.Step.UserIndex), contract.ErrTypeInvalidState, nil)
	}
	if args := steps[in.Step.UserIndex].Args; len(args) > 0 && string(args) != "null" {
		return args, nil
	}
	return json.RawMessage(`{}`), nil
}

// stepJSON is a step as Ironic shows it in clean_step and deploy_step.
func stepJSON(s StepRef, args json.RawMessage, kind StepKind) json.RawMessage {
	v := map[string]any{"interface": s.Interface, "step": s.Name, "args": args, "priority": s.Priority}
	if kind == CleanSteps {
		v["abortable"] = s.InBand
	}
	out, _ := json.Marshal(v) // plain values: cannot fail
	return out
}

// StepResultStore records what RAID and BIOS steps changed on a node;
// *store.Store satisfies it.
type StepResultStore interface {
	SetRAIDInfo(ctx context.Context, nodeUUID string, raidConfig, properties json.RawMessage) error
	ApplyBIOSChange(ctx context.Context, nodeUUID string, c drivers.BIOSChange) error
}

// RunDeployStep runs a step through the node's interface that offers it,
// when that interface runs its steps itself (drivers.StepRunner: the
// fake's deploy, RAID and BIOS interfaces), shows it in the node's
// clean_step or deploy_step while it runs, and records what it changed
// (raid_config, BIOS settings). The name is kept from when only deploy
// interfaces ran steps.
func (a *Activities) RunDeployStep(ctx context.Context, in StepInput) error {
	l, err := a.load(ctx, in.UUID)
	if err != nil {
		return classify(err)
	}
	kind := drivers.Kind(in.Step.Interface)
	name := l.rec.Interfaces.ByKind()[kind]
	impl, err := a.Drivers.Interface(kind, name, l.dn)
	if err != nil {
		return classify(err)
	}
	r, ok := impl.(drivers.StepRunner)
	if !ok {
		return classify(fmt.Errorf("%s interface %s runs no steps itself: %w", kind, name, drivers.ErrUnsupported))
	}
	args, err := a.stepArgs(ctx, in)
	if err != nil {
		return err
	}
	if err := a.showStep(ctx, in, args); err != nil {
		return err
	}
	step := drivers.Step{Interface: kind, Name: in.Step.Name, Priority: in.Step.Priority}
	called := a.call(ctx, l.rec.Driver, string(kind)+".run_step") // a label value per interface kind: bounded
	res, err := r.RunStep(ctx, step, args)
	called(err)
	if err != nil {
		return classify(fmt.Errorf("%s step %s on node %s: %w", in.Kind, in.Step.ID(), in.UUID, err))
	}
	return a.recordStep(ctx, in.UUID, res)
}

// recordStep writes what a step changed: the RAID configuration it left
// (with the root volume's facts in properties, as Ironic's
// update_raid_info) and the BIOS settings.
func (a *Activities) recordStep(ctx context.Context, uuid string, res drivers.StepResult) error {
	if res.RAIDConfig == nil && res.BIOS == nil {
		return nil
	}
	if a.Results == nil {
		return temporal.NewNonRetryableApplicationError("this worker cannot record RAID or BIOS step results",
			contract.ErrTypeUnsupported, nil)
	}
	if res.RAIDConfig != nil {
		n, err := a.Nodes.Node(ctx, uuid)
		if err != nil {
			return classify(fmt.Errorf("load node %s: %w", uuid, err))
		}
		var info raid.Info
		if trimmed := strings.TrimSpace(string(res.RAIDConfig)); trimmed == "{}" {
			info, err = raid.Deleted(n.Properties)
		} else {
			info, err = raid.Applied(n.Properties, res.RAIDConfig, time.Now())
		}
		if err != nil {
			return classify(fmt.Errorf("record RAID configuration of node %s: %w", uuid, err))
		}
		if err := a.Results.SetRAIDInfo(ctx, uuid, info.RAIDConfig, info.Properties); err != nil {
			return classify(fmt.Errorf("record RAID configuration of node %s: %w", uuid, err))
		}
	}
	if res.BIOS != nil {
		if err := a.Results.ApplyBIOSChange(ctx, uuid, *res.BIOS); err != nil {
			return classify(fmt.Errorf("record BIOS settings of node %s: %w", uuid, err))
		}
	}
	return nil
}

// showStep writes the step into the node's clean_step, deploy_step or
// service_step.
func (a *Activities) showStep(ctx context.Context, in StepInput, args json.RawMessage) error {
	st, err := a.agents()
	if err != nil {
		return err
	}
	if err := stepWriter(st, in.Kind)(ctx, in.UUID, stepJSON(in.Step, args, in.Kind)); err != nil {
		return classify(fmt.Errorf("show %s step of node %s: %w", in.Kind, in.UUID, err))
	}
	return nil
}

// CheckInstanceImage checks that instance_info names an image a deploy can
// write (it returns nothing: the image's URL stays out of workflow history).
func (a *Activities) CheckInstanceImage(ctx context.Context, uuid string) error {
	n, err := a.Nodes.Node(ctx, uuid)
	if err != nil {
		return classify(fmt.Errorf("load node %s: %w", uuid, err))
	}
	_, err = writeImageParams(uuid, n.InstanceInfo)
	return err
}

// writeImageParams returns the write_image parameters of instance_info:
// image_source, image_checksum or image_os_hash_algo and image_os_hash_value,
// and the format from image_disk_format (raw, qcow2; others are detected by
// the agent from the content). The device is left to the agent (its first
// disk).
func writeImageParams(uuid string, instanceInfo json.RawMessage) (wire.WriteImage, error) {
	var img instanceImage
	if len(instanceInfo) > 0 {
		if err := json.Unmarshal(instanceInfo, &img); err != nil {
			return wire.WriteImage{}, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("instance_info of node %s is not usable: %v", uuid, err), contract.ErrTypeBadInstanceInfo, nil)
		}
	}
	if img.Source == "" {
		return wire.WriteImage{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("cannot deploy node %s: instance_info has no image_source", uuid), contract.ErrTypeBadInstanceInfo, nil)
	}
	if (img.HashAlgo == "") != (img.HashValue == "") {
		return wire.WriteImage{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("cannot deploy node %s: instance_info needs both image_os_hash_algo and image_os_hash_value", uuid),
			contract.ErrTypeBadInstanceInfo, nil)
	}
	w := wire.WriteImage{URL: img.Source, Checksum: img.Checksum, HashAlgo: img.HashAlgo, HashValue: img.HashValue}
	switch img.DiskFormat {
	case "raw", "qcow2":
		w.Format = img.DiskFormat
	}
	return w, nil
}

// agentCommand builds the agent command of a step, or of the config drive
// write (Build), from the store: the node's instance_info, the operation
// record, the agent session's earlier results.
func (a *Activities) agentCommand(ctx context.Context, in AgentCommandInput) (wire.Command, json.RawMessage, error) {
	cmd := wire.Command{ID: in.Command.ID}
	var (
		params   any
		progress json.RawMessage
	)
	switch {
	case in.Build == BuildConfigDrive:
		cmd.Name = wire.CmdWriteConfigDrive
		p, err := a.configDriveParams(ctx, in)
		if err != nil {
			return cmd, nil, err
		}
		params = p
	case in.Step != nil:
		si := StepInput{UUID: in.UUID, OperationID: in.OperationID, Kind: in.Kind, Step: *in.Step}
		args, err := a.stepArgs(ctx, si)
		if err != nil {
			return cmd, nil, err
		}
		progress = stepJSON(*in.Step, args, in.Kind)
		switch in.Step.ID() {
		case "deploy." + drivers.StepWriteImage:
			n, err := a.Nodes.Node(ctx, in.UUID)
			if err != nil {
				return cmd, nil, classify(fmt.Errorf("load node %s: %w", in.UUID, err))
			}
			w, err := writeImageParams(in.UUID, n.InstanceInfo)
			if err != nil {
				return cmd, nil, err
			}
			cmd.Name, params = wire.CmdWriteImage, w
		case "deploy." + drivers.StepEraseDevicesMetadata:
			cmd.Name, params = wire.CmdEraseMetadata, wire.EraseMetadata{}
		case "deploy." + drivers.StepEraseDevices:
			cmd.Name, params = wire.CmdEraseDevices, wire.EraseDevices{}
		case "raid." + drivers.StepCreateConfiguration, "raid." + drivers.StepApplyConfiguration:
			p, err := a.createRAIDParams(ctx, in.UUID, in.Step.Name, args)
			if err != nil {
				return cmd, nil, err
			}
			cmd.Name, params = wire.CmdCreateRAID, p
		case "raid." + drivers.StepDeleteConfiguration:
			cmd.Name, params = wire.CmdDeleteRAID, struct{}{}
		default:
			return cmd, nil, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("the agent has no %s step %s", in.Kind, in.Step.ID()), contract.ErrTypeUnsupported, nil)
		}
	default:
		return in.Command, in.DeployStep, nil
	}
	raw, err := json.Marshal(params)
	if err != nil {
		return cmd, nil, fmt.Errorf("encode %s params: %w", cmd.Name, err)
	}
	cmd.Params = raw
	return cmd, progress, nil
}

// createRAIDParams builds create_configuration's parameters: the node's
// target RAID configuration filtered as create_configuration's arguments
// ask (Ironic's AgentRAID.create_configuration), or apply_configuration's
// raid_config (deleting the existing configuration first unless
// delete_existing is false).
func (a *Activities) createRAIDParams(ctx context.Context, uuid, step string, args json.RawMessage) (wire.CreateRAID, error) {
	var in struct {
		CreateRoot     *bool           `json:"create_root_volume"`
		CreateNonRoot  *bool           `json:"create_nonroot_volumes"`
		RAIDConfig     json.RawMessage `json:"raid_config"`
		DeleteExisting *bool           `json:"delete_existing"`
	}
	if err := json.Unmarshal(args, &in); err != nil {
		return wire.CreateRAID{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("raid.%s arguments of node %s: %v", step, uuid, err), contract.ErrTypeInvalidState, nil)
	}
	if step == drivers.StepApplyConfiguration {
		if len(in.RAIDConfig) == 0 || string(in.RAIDConfig) == "null" {
			return wire.CreateRAID{}, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("raid.apply_configuration on node %s needs raid_config", uuid), contract.ErrTypeInvalidState, nil)
		}
		return wire.CreateRAID{Config: in.RAIDConfig, DeleteExisting: in.DeleteExisting == nil || *in.DeleteExisting}, nil
	}
	n, err := a.Nodes.Node(ctx, uuid)
	if err != nil {
		return wire.CreateRAID{}, classify(fmt.Errorf("load node %s: %w", uuid, err))
	}
	cfg, err := raid.Filter(uuid, n.TargetRAIDConfig, in.CreateRoot == nil || *in.CreateRoot,
		in.CreateNonRoot == nil || *in.CreateNonRoot)
	if err != nil {
		return wire.CreateRAID{}, classify(err)
	}
	return wire.CreateRAID{Config: cfg}, nil
}

// recordAgentRAID records the RAID configuration an agent's RAID command
// left (Ironic's post-step hooks of AgentRAID): the configuration the
// agent built, or none after delete_configuration.
func (a *Activities) recordAgentRAID(ctx context.Context, uuid string, c store.AgentCommand) error {
	switch c.Name {
	case wire.CmdCreateRAID:
		if r := strings.TrimSpace(string(c.Result)); r == "" || r == "null" || r == "{}" {
			return temporal.NewNonRetryableApplicationError(fmt.Sprintf("Agent ramdisk didn't return a proper "+
				"command result while building RAID on %s. It returned '%s' after command execution.", uuid, r),
				contract.ErrTypeAgentCommandFailed, nil)
		}
		return a.recordStep(ctx, uuid, drivers.StepResult{RAIDConfig: c.Result})
	case wire.CmdDeleteRAID:
		return a.recordStep(ctx, uuid, drivers.StepResult{RAIDConfig: json.RawMessage(`{}`)})
	}
	return nil
}

// configDriveParams builds write_configdrive's parameters: the operation's
// config drive (built into an ISO image when it is a JSON document, as
// Ironic's conductor does; a URL or base64 string passes as given) and the
// size of the image the agent wrote before, which the partition must not
// overlap.
func (a *Activities) configDriveParams(ctx context.Context, in AgentCommandInput) (wire.WriteConfigDrive, error) {
	op, err := a.operation(ctx, in.OperationID)
	if err != nil {
		return wire.WriteConfigDrive{}, err
	}
	var p wire.WriteConfigDrive
	var s string
	if err := json.Unmarshal(op.ConfigDrive, &s); err == nil {
		p.ConfigDrive = s
	} else {
		n, err := a.Nodes.Node(ctx, in.UUID)
		if err != nil {
			return p, classify(fmt.Errorf("load node %s: %w", in.UUID, err))
		}
		name := ""
		if n.Name != nil {
			name = *n.Name
		}
		if p.ConfigDrive, err = configdrive.Build(op.ConfigDrive, configdrive.Node{UUID: n.UUID, Name: name},
			os.TempDir()); err != nil {
			return p, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("build the config drive of node %s: %v", in.UUID, err), contract.ErrTypeBadInstanceInfo, nil)
		}
	}
	st, err := a.agents()
	if err != nil {
		return p, err
	}
	sess, err := st.AgentSession(ctx, in.UUID)
	if err != nil {
		return p, classify(fmt.Errorf("read agent session of node %s: %w", in.UUID, err))
	}
	for _, c := range sess.Commands {
		if c.Name == wire.CmdWriteImage && c.Status == wire.StatusSucceeded {
			var r wire.WriteImageResult
			if json.Unmarshal(c.Result, &r) == nil {
				p.ImageSize = max(p.ImageSize, r.BytesWritten)
			}
		}
	}
	return p, nil
}

// FlowStep is what a workflow needs to run one of Ironic's conductor-level
// steps (drivers.ReservedSteps) beyond its name: the wait step's
// seconds, when given.
type FlowStep struct {
	Seconds *int `json:"seconds,omitempty"`
}

// StartFlowStep shows a conductor-level step (power_on, power_off, reboot,
// wait) in the node's clean_step, deploy_step or service_step with the
// arguments the request gave it, as Ironic's conductor does before it runs
// one, and returns the arguments the workflow acts on: the wait step's
// seconds (Ironic's int(args['seconds'])). An argument that is not a
// whole number of seconds is ErrTypeInvalidParameter.
func (a *Activities) StartFlowStep(ctx context.Context, in StepInput) (FlowStep, error) {
	args, err := a.stepArgs(ctx, in)
	if err != nil {
		return FlowStep{}, err
	}
	if err := a.showStep(ctx, in, args); err != nil {
		return FlowStep{}, err
	}
	if in.Step.Name != drivers.StepWait {
		return FlowStep{}, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(args, &m); err != nil {
		return FlowStep{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("the arguments of step %s are not an object: %v", in.Step.ID(), err),
			contract.ErrTypeInvalidParameter, nil)
	}
	raw, ok := m["seconds"]
	if !ok {
		return FlowStep{}, nil
	}
	secs, err := waitSeconds(raw)
	if err != nil {
		return FlowStep{}, temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrTypeInvalidParameter, nil)
	}
	return FlowStep{Seconds: &secs}, nil
}

// waitSeconds reads the wait step's seconds as Python's int() does: a
// number (truncated toward zero), a string of decimal digits with an
// optional sign, or a boolean; never negative (time.sleep refuses).
func waitSeconds(raw json.RawMessage) (int, error) {
	var v any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return 0, fmt.Errorf("seconds %s is not a number: %w", raw, err)
	}
	var secs int
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return 0, fmt.Errorf("seconds %s is not a number: %w", raw, err)
		}
		switch {
		case f > 1<<31:
			secs = 1 << 31 // the workflow clamps it to its maximum
		case f < 0:
			secs = -1
		default:
			secs = int(f)
		}
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(x))
		if err != nil {
			return 0, fmt.Errorf("invalid literal for int() with base 10: '%s'", x)
		}
		secs = n
	case bool:
		if x {
			secs = 1
		}
	default:
		return 0, fmt.Errorf("int() argument must be a string, a bytes-like object or a real number, not %s", raw)
	}
	if secs < 0 {
		return 0, errors.New("sleep length must be non-negative")
	}
	return secs, nil
}
