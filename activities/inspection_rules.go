package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/ferric-project/ferric/inspection/rules"
	"github.com/ferric-project/ferric/store"
)

// errTypeRuleFailed is an inspection rule that failed (a fail action, an
// operator or action error): the inspection fails with its message.
const errTypeRuleFailed = "InspectionRuleFailed"

// ruleField is one field of a node or port (T) that inspection rules read
// and set, by its Ironic name, as an engine value (rules.Decode's).
type ruleField[T any] struct {
	name string
	get  func(x *T) any
	set  func(x *T, v any) error
}

// objField is a JSON object field (properties, extra, ...).
func objField[T any](name string, p func(x *T) *json.RawMessage) ruleField[T] {
	return ruleField[T]{name: name,
		get: func(x *T) any {
			v, err := rules.Decode(*p(x))
			if err != nil || v == nil {
				return rules.NewObject()
			}
			return v
		},
		set: func(x *T, v any) error {
			if _, ok := v.(*rules.Object); !ok {
				return fmt.Errorf("field %s must be a dictionary", name)
			}
			*p(x) = rules.Encode(v)
			return nil
		}}
}

// valField is a string or boolean field.
func valField[T any, V string | bool](name string, p func(x *T) *V) ruleField[T] {
	return ruleField[T]{name: name,
		get: func(x *T) any { return *p(x) },
		set: func(x *T, v any) error {
			t, ok := v.(V)
			if !ok {
				return fmt.Errorf("field %s must be a %T", name, t)
			}
			*p(x) = t
			return nil
		}}
}

// optTextField is a text field that takes None.
func optTextField[T any](name string, p func(x *T) **string) ruleField[T] {
	return ruleField[T]{name: name,
		get: func(x *T) any {
			if *p(x) == nil {
				return nil
			}
			return **p(x)
		},
		set: func(x *T, v any) error {
			switch s := v.(type) {
			case nil:
				*p(x) = nil
			case string:
				*p(x) = &s
			default:
				return fmt.Errorf("field %s must be a string or None", name)
			}
			return nil
		}}
}

// ruleFieldsOf are the fields of T named in names as inspection rules
// read and set them: their places and types are the store's (store.Field),
// by type: a string or boolean, a string that may be None, a JSON object.
// A named field of another type, or that T lacks, is left out (the tests
// check that none is).
func ruleFieldsOf[T any](all []store.Field[T], names []string) []ruleField[T] {
	var out []ruleField[T]
	for _, f := range all {
		if !slices.Contains(names, f.Name) {
			continue
		}
		ptr := f.Ptr
		switch ptr(new(T)).(type) {
		case *string:
			out = append(out, valField(f.Name, func(x *T) *string { return ptr(x).(*string) }))
		case *bool:
			out = append(out, valField(f.Name, func(x *T) *bool { return ptr(x).(*bool) }))
		case **string:
			out = append(out, optTextField(f.Name, func(x *T) **string { return ptr(x).(**string) }))
		case *[]byte:
			out = append(out, objField(f.Name, func(x *T) *json.RawMessage { return (*json.RawMessage)(ptr(x).(*[]byte)) }))
		}
	}
	return out
}

// ruleNodeFields are the node fields inspection rules can read and set:
// the ones an operator sets through the API (the state, lock and
// timestamp fields are the workflows').
func ruleNodeFields() []ruleField[store.Node] {
	return ruleFieldsOf(store.NodeFields(), []string{"name", "driver", "driver_info", "properties", "instance_info",
		"extra", "resource_class", "description", "owner", "lessee", "conductor_group", "shard", "chassis_uuid",
		"protected", "protected_reason", "retired", "retired_reason", "disable_power_off", "bios_interface",
		"boot_interface", "console_interface", "deploy_interface", "firmware_interface", "inspect_interface",
		"management_interface", "network_interface", "power_interface", "raid_interface", "rescue_interface",
		"storage_interface", "vendor_interface"})
}

// rulePortFields are the port fields inspection rules can read and set.
func rulePortFields() []ruleField[store.Port] {
	return ruleFieldsOf(store.PortFields(), []string{"address", "name", "extra", "local_link_connection",
		"internal_info", "physical_network", "pxe_enabled", "is_smartnic"})
}

// applyInspectionRules runs the stored inspection rules of phase main and
// the worker's built-in ones (API 1.96) over a node's processed inspection
// data, after the hooks changed the node, as Ironic's continue_inspection
// does, and writes what they changed (node fields, traits, ports, plugin
// data) in one transaction. The node's lock is the inspection's; an API
// write racing it (PATCH) makes the rules run again on the new node. A
// rule that fails fails the inspection with Ironic's message.
func (a *Activities) applyInspectionRules(ctx context.Context, uuid string) ([]string, error) {
	rs, err := a.inspectStore()
	if err != nil {
		return nil, err
	}
	main := rules.PhaseMain
	listed, err := rs.ListInspectionRules(ctx, store.ListInspectionRules{Phase: &main})
	if err != nil {
		return nil, classify(fmt.Errorf("list inspection rules: %w", err))
	}
	stored := make([]rules.Rule, 0, len(listed))
	for _, r := range listed {
		rule, err := rules.Stored(r.UUID, int(r.Priority), r.Sensitive, r.Phase, r.Conditions, r.Actions)
		if err != nil {
			return nil, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("Failed to finish inspection: %v", err), errTypeRuleFailed, nil)
		}
		stored = append(stored, rule)
	}
	all := a.InspectionRules.Rules(stored)
	if len(all) == 0 {
		return nil, nil
	}
	for attempt := 0; ; attempt++ {
		applied, err := a.applyRulesOnce(ctx, rs, uuid, all)
		if err == nil || !errors.Is(err, store.ErrConflict) || attempt >= 4 {
			return applied, err
		}
	}
}

// applyRulesOnce reads the node, its ports and inspection data, applies
// the rules, writes the result and marks the posted data applied, all in
// one transaction; with the posted data marked applied already it does
// nothing.
func (a *Activities) applyRulesOnce(ctx context.Context, rs InspectStore, uuid string, all []rules.Rule) ([]string, error) {
	var applied []string
	err := rs.InTx(ctx, func(q store.Queries) error {
		// The posted data is marked applied in the transaction that
		// applies the rules: marked, they were applied by an attempt whose
		// completion was lost (a crash), and are not applied twice.
		if d, err := q.InspectionData(ctx, uuid); err != nil {
			return fmt.Errorf("read inspection data of node %s: %w", uuid, err)
		} else if d.AppliedAt != nil {
			return nil
		}
		n, err := q.Node(ctx, uuid)
		if err != nil {
			return fmt.Errorf("load node %s: %w", uuid, err)
		}
		ports, err := q.ListPorts(ctx, store.ListPorts{NodeUUID: uuid})
		if err != nil {
			return fmt.Errorf("list ports of node %s: %w", uuid, err)
		}
		inv, err := q.NodeInventory(ctx, uuid)
		if err != nil {
			return fmt.Errorf("read inventory of node %s: %w", uuid, err)
		}
		inventoryV, err := rules.Decode(inv.Inventory)
		if err != nil {
			return fmt.Errorf("inventory of node %s: %w", uuid, err)
		}
		var pluginV any
		if len(inv.PluginData) > 0 {
			if pluginV, err = rules.Decode(inv.PluginData); err != nil {
				return fmt.Errorf("plugin data of node %s: %w", uuid, err)
			}
		}
		fields := ruleNodeFields()
		rn := rules.Node{UUID: n.UUID, Fields: map[string]any{}, Traits: n.Traits}
		for _, f := range fields {
			rn.Fields[f.name] = f.get(&n)
		}
		pfields := rulePortFields()
		for i := range ports {
			rp := rules.Port{UUID: ports[i].UUID, Fields: map[string]any{}}
			for _, f := range pfields {
				rp.Fields[f.name] = f.get(&ports[i])
			}
			rn.Ports = append(rn.Ports, rp)
		}
		res, err := rules.Apply(all, rn, inventoryV, pluginV, a.InspectionRules)
		a.logRules(ctx, uuid, res.Logs)
		if err != nil {
			return err // a rule failed: nothing is written
		}
		applied = res.Applied
		if len(res.ChangedFields) > 0 || res.TraitsChanged {
			for _, f := range fields {
				if !slices.Contains(res.ChangedFields, f.name) {
					continue
				}
				if err := f.set(&n, res.Node.Fields[f.name]); err != nil {
					return &rules.Error{Message: fmt.Sprintf("Failed to apply inspection rules to node %s: %v",
						uuid, err)}
				}
			}
			n.Traits = res.Node.Traits
			if _, err := q.UpdateNode(ctx, n); err != nil {
				return fmt.Errorf("update node %s: %w", uuid, err)
			}
		}
		for i, p := range ports {
			changed := res.ChangedPorts[p.UUID]
			if len(changed) == 0 {
				continue
			}
			for _, f := range pfields {
				if !slices.Contains(changed, f.name) {
					continue
				}
				if err := f.set(&ports[i], res.Node.Ports[i].Fields[f.name]); err != nil {
					// Rolls back the node's changes too.
					return &rules.Error{Message: fmt.Sprintf("Failed to apply inspection rules to port %s: %v",
						p.UUID, err)}
				}
			}
			if _, err := q.UpdatePort(ctx, ports[i]); err != nil {
				return fmt.Errorf("update port %s of node %s: %w", p.UUID, uuid, err)
			}
		}
		// Compared as the engine writes both: the stored text (spacing,
		// escapes) is kept unless a rule changed the data.
		pd := rules.Encode(res.PluginData)
		if before, err := rules.Decode(inv.PluginData); err != nil || string(rules.Encode(before)) != string(pd) {
			inv.PluginData = pd
			if err := q.SetInventory(ctx, inv); err != nil {
				return fmt.Errorf("store plugin data of node %s: %w", uuid, err)
			}
		}
		// Applied, in the same transaction: a retry finds it marked and
		// applies nothing again.
		if err := q.MarkInspectionApplied(ctx, uuid); err != nil {
			return err
		}
		return nil
	})
	if re := (*rules.Error)(nil); errors.As(err, &re) {
		return nil, temporal.NewNonRetryableApplicationError("Failed to finish inspection: "+re.Error(),
			errTypeRuleFailed, nil)
	}
	if err != nil {
		return nil, classify(err)
	}
	return applied, nil
}

// logRules logs what the rules' log actions asked for, at their level.
func (a *Activities) logRules(ctx context.Context, uuid string, logs []rules.LogEntry) {
	if len(logs) == 0 || !activity.IsActivity(ctx) {
		return
	}
	l := activity.GetLogger(ctx)
	for _, e := range logs {
		kv := []any{"node", uuid, "rule", e.Rule}
		switch e.Level {
		case "debug":
			l.Debug(e.Msg, kv...)
		case "warning":
			l.Warn(e.Msg, kv...)
		case "error", "critical":
			l.Error(e.Msg, kv...)
		default:
			l.Info(e.Msg, kv...)
		}
	}
}
