package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"go.temporal.io/sdk/temporal"

	"github.com/ferric-project/ferric/agent/wire"
	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/drivers/deploy/configdrive"
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
	CleanSteps  StepKind = "clean"
	DeploySteps StepKind = "deploy"
)

// StepRef names one step without its arguments, which stay in the store: a
// step of the node's deploy interface (UserIndex -1) or one the request gave
// (its index in the request's list).
type StepRef struct {
	Interface string `json:"interface"`
	Name      string `json:"step"`
	Priority  int    `json:"priority"`
	UserIndex int    `json:"user_index"`
	InBand    bool   `json:"in_band,omitempty"`
	Core      bool   `json:"core,omitempty"`
}

// ID names the step as Ironic does: "<interface>.<step>".
func (s StepRef) ID() string { return s.Interface + "." + s.Name }

// OperationFactsInput selects the facts an operation's workflow plans with.
type OperationFactsInput struct {
	UUID        string   `json:"uuid"`
	OperationID string   `json:"operation_id,omitempty"`
	Kind        StepKind `json:"kind"`
}

// OperationFacts are what a workflow needs to plan an operation's steps;
// no user data: arguments and the config drive stay in the store.
type OperationFacts struct {
	// Catalog lists the Kind steps the node's deploy interface offers.
	Catalog []StepRef `json:"catalog,omitempty"`
	// User lists the request's Kind steps, in the request's order.
	User []StepRef `json:"user,omitempty"`
	// RunsSteps says the deploy interface runs steps itself (in memory);
	// otherwise in-band steps go to the ramdisk agent.
	RunsSteps bool `json:"runs_steps,omitempty"`
	// HasConfigDrive says the request gave a config drive.
	HasConfigDrive bool `json:"has_config_drive,omitempty"`
}

// userStep is the part of a request's step this package reads.
type userStep struct {
	Interface string          `json:"interface"`
	Step      string          `json:"step"`
	Args      json.RawMessage `json:"args"`
	Priority  json.Number     `json:"priority"`
}

// OperationFacts returns the step catalog of the node's deploy interface and
// the operation record's steps (without arguments) of in.Kind.
func (a *Activities) OperationFacts(ctx context.Context, in OperationFactsInput) (OperationFacts, error) {
	l, err := a.load(ctx, in.UUID)
	if err != nil {
		return OperationFacts{}, classify(err)
	}
	d, err := a.Drivers.Deploy(l.rec.Interfaces.Deploy, l.dn)
	if err != nil {
		return OperationFacts{}, classify(err)
	}
	var f OperationFacts
	_, f.RunsSteps = d.(drivers.StepRunner)
	if st, ok := d.(drivers.Stepper); ok {
		catalog := st.DeploySteps()
		if in.Kind == CleanSteps {
			catalog = st.CleanSteps()
		}
		for _, s := range catalog {
			f.Catalog = append(f.Catalog, StepRef{Interface: string(s.Interface), Name: s.Name, Priority: s.Priority,
				UserIndex: -1, InBand: s.InBand, Core: s.Core})
		}
	}
	if in.OperationID == "" {
		return f, nil
	}
	op, err := a.operation(ctx, in.OperationID)
	if err != nil {
		return OperationFacts{}, err
	}
	f.HasConfigDrive = len(op.ConfigDrive) > 0 && string(op.ConfigDrive) != "null"
	steps, err := requestSteps(op, in.Kind)
	if err != nil {
		return OperationFacts{}, err
	}
	for i, u := range steps {
		ref := StepRef{Interface: u.Interface, Name: u.Step, UserIndex: i}
		if p, err := u.Priority.Int64(); err == nil {
			ref.Priority = int(p)
		}
		for _, c := range f.Catalog {
			if c.ID() == ref.ID() {
				ref.InBand, ref.Core = c.InBand, c.Core
			}
		}
		f.User = append(f.User, ref)
	}
	return f, nil
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
	if kind == CleanSteps {
		raw = op.CleanSteps
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

// RunDeployStep runs a step through a deploy interface that runs steps
// itself (drivers.StepRunner), and shows it in the node's clean_step or
// deploy_step while it runs.
func (a *Activities) RunDeployStep(ctx context.Context, in StepInput) error {
	l, err := a.load(ctx, in.UUID)
	if err != nil {
		return classify(err)
	}
	d, err := a.Drivers.Deploy(l.rec.Interfaces.Deploy, l.dn)
	if err != nil {
		return classify(err)
	}
	r, ok := d.(drivers.StepRunner)
	if !ok {
		return classify(fmt.Errorf("deploy interface %s runs no steps itself: %w", l.rec.Interfaces.Deploy,
			drivers.ErrUnsupported))
	}
	args, err := a.stepArgs(ctx, in)
	if err != nil {
		return err
	}
	if err := a.showStep(ctx, in, args); err != nil {
		return err
	}
	step := drivers.Step{Interface: drivers.Kind(in.Step.Interface), Name: in.Step.Name, Priority: in.Step.Priority}
	called := a.call(l.rec.Driver, "deploy.run_step")
	err = r.RunStep(ctx, step, args)
	called(err)
	if err != nil {
		return classify(fmt.Errorf("%s step %s on node %s: %w", in.Kind, in.Step.ID(), in.UUID, err))
	}
	return nil
}

// showStep writes the step into the node's clean_step or deploy_step.
func (a *Activities) showStep(ctx context.Context, in StepInput, args json.RawMessage) error {
	st, err := a.agents()
	if err != nil {
		return err
	}
	js := stepJSON(in.Step, args, in.Kind)
	if in.Kind == CleanSteps {
		err = st.SetCleanProgress(ctx, in.UUID, js)
	} else {
		err = st.SetDeployProgress(ctx, in.UUID, js)
	}
	if err != nil {
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
		switch in.Step.Name {
		case drivers.StepWriteImage:
			n, err := a.Nodes.Node(ctx, in.UUID)
			if err != nil {
				return cmd, nil, classify(fmt.Errorf("load node %s: %w", in.UUID, err))
			}
			w, err := writeImageParams(in.UUID, n.InstanceInfo)
			if err != nil {
				return cmd, nil, err
			}
			cmd.Name, params = wire.CmdWriteImage, w
		case drivers.StepEraseDevicesMetadata:
			cmd.Name, params = wire.CmdEraseMetadata, wire.EraseMetadata{}
		case drivers.StepEraseDevices:
			cmd.Name, params = wire.CmdEraseDevices, wire.EraseDevices{}
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
