// Package rules is ferric's inspection rules engine (Ironic 29's
// ironic.common.inspection_rules): the vocabulary of condition operators
// and actions with their argument signatures, the checks a rule's body
// passes before it is stored, and Apply, which runs rules over a node's
// inspection data and returns what to change. It does no I/O and imports
// no Temporal, Fiber or pgx: the API validates with it, and the
// inspection pipeline (an activity) calls Apply and writes the changes.
package rules

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// PhaseMain is the only inspection phase (Ironic's InspectionPhase.MAIN).
const PhaseMain = "main"

// Phases are the valid phases, in Ironic's order.
var Phases = []string{PhaseMain}

// MaxPriority is the highest priority a user-defined rule may have;
// built-in rules may have any.
const MaxPriority = 9999

// signature is an operator's or action's arguments, as Ironic reads them
// from its __call__: required then optional names, in order.
type signature struct {
	required, optional []string
	// formatted are the arguments interpolated outside a loop
	// (FORMATTED_ARGS); in a loop every argument is.
	formatted []string
	// pluginData: the action takes the plugin data as an argument
	// (REQUIRES_PLUGIN_DATA).
	pluginData bool
}

// operators are Ironic's OPERATORS, in its order.
var operators = []struct {
	name string
	sig  signature
}{
	{"eq", signature{required: []string{"values"}, optional: []string{"force_strings"}}},
	{"lt", signature{required: []string{"values"}, optional: []string{"force_strings"}}},
	{"gt", signature{required: []string{"values"}, optional: []string{"force_strings"}}},
	{"is-empty", signature{required: []string{"value"}, formatted: []string{"value"}}},
	{"in-net", signature{required: []string{"address", "subnet"}, formatted: []string{"address", "subnet"}}},
	{"matches", signature{required: []string{"value", "regex"}, formatted: []string{"value"}}},
	{"contains", signature{required: []string{"value", "regex"}, formatted: []string{"value"}}},
	{"one-of", signature{required: []string{"value"}, optional: []string{"values"}, formatted: []string{"value"}}},
	{"is-none", signature{required: []string{"value"}, formatted: []string{"value"}}},
	{"is-true", signature{required: []string{"value"}, formatted: []string{"value"}}},
	{"is-false", signature{required: []string{"value"}, formatted: []string{"value"}}},
}

// actions are Ironic's ACTIONS, in its order.
var actions = []struct {
	name string
	sig  signature
}{
	{"fail", signature{required: []string{"msg"}}},
	{"set-attribute", signature{required: []string{"path", "value"}, formatted: []string{"value"}}},
	{"set-capability", signature{required: []string{"name", "value"}, formatted: []string{"value"}}},
	{"unset-capability", signature{required: []string{"name"}}},
	{"extend-attribute", signature{required: []string{"path", "value"}, optional: []string{"unique"},
		formatted: []string{"value"}}},
	{"add-trait", signature{required: []string{"name"}}},
	{"remove-trait", signature{required: []string{"name"}}},
	{"set-plugin-data", signature{required: []string{"path", "value", "plugin_data"}, formatted: []string{"value"},
		pluginData: true}},
	{"extend-plugin-data", signature{required: []string{"path", "value", "plugin_data"},
		optional: []string{"unique"}, formatted: []string{"value"}, pluginData: true}},
	{"unset-plugin-data", signature{required: []string{"path", "plugin_data"}, pluginData: true}},
	{"log", signature{required: []string{"msg"}, optional: []string{"level"}, formatted: []string{"msg"}}},
	{"del-attribute", signature{required: []string{"path"}}},
	{"set-port-attribute", signature{required: []string{"port_id", "path", "value"}, formatted: []string{"value"}}},
	{"extend-port-attribute", signature{required: []string{"port_id", "path", "value"},
		optional: []string{"unique"}, formatted: []string{"value"}}},
	{"del-port-attribute", signature{required: []string{"port_id", "path"}}},
}

// OperatorNames are the condition operators, in Ironic's order.
func OperatorNames() []string {
	out := make([]string, len(operators))
	for i, o := range operators {
		out[i] = o.name
	}
	return out
}

// ActionNames are the actions, in Ironic's order.
func ActionNames() []string {
	out := make([]string, len(actions))
	for i, a := range actions {
		out[i] = a.name
	}
	return out
}

func operatorSig(name string) (signature, bool) {
	for _, o := range operators {
		if o.name == name {
			return o.sig, true
		}
	}
	return signature{}, false
}

func actionSig(name string) (signature, bool) {
	for _, a := range actions {
		if a.name == name {
			return a.sig, true
		}
	}
	return signature{}, false
}

// ErrInvalidArgs marks an operator's or action's arguments that do not fit
// its signature (Ironic's InspectionRuleValidationFailure).
var ErrInvalidArgs = errors.New("invalid inspection rule arguments")

// argsError is an ErrInvalidArgs with Ironic's message.
type argsError struct{ msg string }

func (e *argsError) Error() string        { return e.msg }
func (e *argsError) Is(target error) bool { return target == ErrInvalidArgs }

// ParseInverted splits a condition operator into its name and whether a
// leading "!" inverts it (Ironic's parse_inverted_operator).
func ParseInverted(op string) (name string, inverted bool, err error) {
	op = strings.TrimSpace(op)
	if strings.Count(op, "!") > 1 {
		return "", false, &argsError{"Multiple exclamation marks are not allowed. To apply the invert of an " +
			"operation, simply add an exclamation mark (with an optional space) before the operator, e.g. eq - !eq."}
	}
	inverted = strings.HasPrefix(op, "!")
	return strings.TrimSpace(strings.TrimLeft(op, "!")), inverted, nil
}

// ValidateCondition checks a condition's arguments against its operator's
// signature (Ironic's OperatorBase.validate). op may be inverted ("!eq").
// The error wraps ErrInvalidArgs and carries Ironic's message.
func ValidateCondition(op string, args any) error {
	name, _, err := ParseInverted(op)
	if err != nil {
		return err
	}
	sig, ok := operatorSig(name)
	if !ok {
		return &argsError{fmt.Sprintf("Unsupported operator '%s'.", name)}
	}
	return sig.validate(args)
}

// ValidateAction checks an action's arguments against its signature
// (Ironic's ActionBase.validate). An action that takes the plugin data
// (TakesPluginData) is checked as Ironic checks it: with an empty
// plugin_data member added to object arguments, an empty object appended
// to list arguments.
func ValidateAction(op string, args any) error {
	sig, ok := actionSig(op)
	if !ok {
		return &argsError{fmt.Sprintf("Unsupported action '%s'.", op)}
	}
	if sig.pluginData {
		switch a := args.(type) {
		case []any:
			args = append(slices.Clone(a), NewObject())
		case keyed:
			keys := slices.Clone(a.Keys())
			if !slices.Contains(keys, "plugin_data") {
				keys = append(keys, "plugin_data")
			}
			args = keyList(keys)
		}
	}
	return sig.validate(args)
}

// TakesPluginData reports whether action op takes the plugin data as an
// argument (Ironic's REQUIRES_PLUGIN_DATA): Ironic then stores the rule
// with an empty plugin_data member in object arguments, an empty object
// appended to list arguments, each time it validates the rule.
func TakesPluginData(op string) bool {
	sig, ok := actionSig(op)
	return ok && sig.pluginData
}

// keyed is an object argument list as validation reads it: its member
// names (an Object, or the API's decoded JSON object).
type keyed interface{ Keys() []string }

// keyList is a keyed of names only.
type keyList []string

func (k keyList) Keys() []string { return k }

// validate is Ironic's Base.validate after the plugin data was added.
func (s signature) validate(args any) error {
	var names []string
	switch a := args.(type) {
	case []any:
		if len(a) < len(s.required) {
			return &argsError{"Not enough arguments provided. Missing: " + strings.Join(s.required[len(a):], ", ")}
		}
		names = append(names, s.required...)
		names = append(names, s.optional[:min(len(s.optional), len(a)-len(s.required))]...)
	case keyed:
		names = a.Keys()
	default:
		return &argsError{"args must be either a list or dictionary"}
	}
	var missing, unexpected []string
	for _, r := range s.required {
		if !slices.Contains(names, r) {
			missing = append(missing, r)
		}
	}
	for _, k := range names {
		if !slices.Contains(s.required, k) && !slices.Contains(s.optional, k) {
			unexpected = append(unexpected, k)
		}
	}
	var msg []string
	if len(missing) > 0 {
		msg = append(msg, "missing required argument(s): "+strings.Join(missing, ", "))
	}
	if len(unexpected) > 0 {
		msg = append(msg, "unexpected argument(s): "+strings.Join(unexpected, ", "))
	}
	if len(msg) > 0 {
		return &argsError{strings.Join(msg, "; ")}
	}
	return nil
}
