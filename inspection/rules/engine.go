package rules

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/ferric-project/ferric/jsonwire"
)

// Rule is one inspection rule as the engine runs it.
type Rule struct {
	UUID      string
	Priority  int
	Sensitive bool
	// Phase is the rule's phase ("" for a rule whose phase was removed:
	// it never runs).
	Phase      string
	BuiltIn    bool
	Conditions []Step
	Actions    []Step
}

// Step is one condition or action: its operator, arguments (a list or an
// *Object), loop (nil: none) and, for a condition, how the loop's results
// combine (any, all, first, last; "" = any).
type Step struct {
	Op       string
	Args     any
	Loop     any
	Multiple string
}

// ParseSteps reads a stored JSON list of conditions or actions.
func ParseSteps(raw json.RawMessage) ([]Step, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	v, err := Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("steps: %w", err)
	}
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("steps: not a list")
	}
	out := make([]Step, 0, len(list))
	for i, e := range list {
		o, ok := e.(*Object)
		if !ok {
			return nil, fmt.Errorf("step %d: not an object", i)
		}
		var st Step
		st.Op, _ = o.Value("op").(string)
		st.Args = o.Value("args")
		st.Loop = o.Value("loop")
		st.Multiple, _ = o.Value("multiple").(string)
		out = append(out, st)
	}
	return out, nil
}

// Stored builds the rule a stored inspection rule describes (its UUID,
// priority, sensitive flag, phase, nil when removed, and JSON lists of
// conditions and actions).
func Stored(uuid string, priority int, sensitive bool, phase *string, conditions, actions json.RawMessage) (Rule, error) {
	r := Rule{UUID: uuid, Priority: priority, Sensitive: sensitive}
	if phase != nil {
		r.Phase = *phase
	}
	var err error
	if r.Conditions, err = ParseSteps(conditions); err != nil {
		return r, fmt.Errorf("rule %s conditions: %w", uuid, err)
	}
	if r.Actions, err = ParseSteps(actions); err != nil {
		return r, fmt.Errorf("rule %s actions: %w", uuid, err)
	}
	return r, nil
}

// Node is what rules read and change of a node.
type Node struct {
	UUID string
	// Fields are the node's fields by Ironic's names (name, driver,
	// properties, driver_info, extra, instance_info, resource_class, ...)
	// as engine values (Decode). Attributes that are not here are not the
	// node's: a rule that sets one changes nothing, a rule that sets a
	// path under one fails, as on an Ironic node object.
	Fields map[string]any
	Traits []string
	Ports  []Port
}

// Port is one of the node's ports: its UUID and fields (address, extra,
// local_link_connection, physical_network, pxe_enabled, ...).
type Port struct {
	UUID   string
	Fields map[string]any
}

// Mask says which rules read the inspection data with its secrets
// (password, auth_token, bmc_password) masked: Ironic's
// [inspection_rules]mask_secrets.
type Mask string

// The mask settings.
const (
	MaskAlways    Mask = "always" // the default
	MaskNever     Mask = "never"
	MaskSensitive Mask = "sensitive" // all rules but sensitive ones
)

// Config is how Apply runs, and the built-in rules a worker runs besides
// the stored ones.
type Config struct {
	Mask    Mask // "" = MaskAlways
	BuiltIn []Rule
}

// Rules returns the rules to apply: the stored ones (in creation order),
// then the built-in ones, as Ironic's apply_rules lists them.
func (c Config) Rules(stored []Rule) []Rule {
	return append(slices.Clone(stored), c.BuiltIn...)
}

// ParseMask reads a mask setting ("" = MaskAlways).
func ParseMask(s string) (Mask, error) {
	switch m := Mask(s); m {
	case "":
		return MaskAlways, nil
	case MaskAlways, MaskNever, MaskSensitive:
		return m, nil
	}
	return "", fmt.Errorf("inspection rules mask %q: want always, never or sensitive", s)
}

// LogEntry is what a log action asked to log.
type LogEntry struct {
	Rule, Level, Msg string
}

// Result is what the rules changed: the node and plugin data as they are
// after the actions, and what changed in them.
type Result struct {
	// Node is the node after the actions; ChangedFields names the fields
	// that changed (in the order first changed); Traits is the whole
	// trait list; TraitsChanged says it differs from the input's.
	Node          Node
	ChangedFields []string
	TraitsChanged bool
	// ChangedPorts are the UUIDs of the ports whose fields changed, with
	// the fields, in Node.Ports.
	ChangedPorts map[string][]string
	// PluginData is the plugin data after the actions.
	PluginData any
	// Applied are the UUIDs of the rules whose actions ran, in order.
	Applied []string
	Logs    []LogEntry
}

// Error is a rule that failed: the inspection fails with Message as its
// error (Ironic's messages).
type Error struct {
	Rule    string
	Message string
	// Fail: a fail action asked for it.
	Fail bool
}

func (e *Error) Error() string { return e.Message }

// ErrRuleFailed is what every *Error matches with errors.Is.
var ErrRuleFailed = errors.New("inspection rule failed")

// Is makes *Error match ErrRuleFailed.
func (e *Error) Is(target error) bool { return target == ErrRuleFailed }

// runError is an error inside an operator or action, before Apply shapes
// it: kind says how Ironic reports it.
type runError struct {
	kind int // one of the kind* constants
	msg  string
}

const (
	kindGeneric  = iota // a Python exception: wrapped in "Failed to apply rule ..."
	kindHardware        // a HardwareInspectionFailure: its message as is
	kindIronic          // another Ironic exception (PortNotFound): its message as is
)

func (e *runError) Error() string { return e.msg }

func generic(format string, a ...any) error {
	return &runError{kind: kindGeneric, msg: fmt.Sprintf(format, a...)}
}

func actionFailure(format string, a ...any) error {
	return &runError{kind: kindHardware,
		msg: "Inspection rule action execution failed. Reason: " + fmt.Sprintf(format, a...)}
}

func executionFailure(format string, a ...any) error {
	return &runError{kind: kindHardware, msg: fmt.Sprintf(format, a...)}
}

// Apply runs rules over a node's inspection data as Ironic's apply_rules
// does: by priority, highest first (ties in the order given: the stored
// rules by creation, then the built-in ones), each rule's conditions then,
// when all hold, its actions. Rules of another phase than main are
// skipped. It changes neither node nor pluginData: the result holds the
// changed copies. The first rule that fails stops it with an *Error.
func Apply(rules []Rule, node Node, inventory, pluginData any, cfg Config) (Result, error) {
	res := Result{Node: cloneNode(node), PluginData: clone(pluginData), ChangedPorts: map[string][]string{}}
	if res.PluginData == nil {
		res.PluginData = NewObject()
	}
	order := slices.Clone(rules)
	slices.SortStableFunc(order, func(a, b Rule) int { return cmp.Compare(b.Priority, a.Priority) })
	for _, r := range order {
		if r.Phase != PhaseMain && !r.BuiltIn {
			continue
		}
		mask := cfg.Mask == MaskAlways || cfg.Mask == "" || (cfg.Mask == MaskSensitive && !r.Sensitive)
		run := &run{res: &res, rule: r, inventory: inventory, mask: mask, before: node}
		if err := run.rule1(); err != nil {
			var re *runError
			if !errors.As(err, &re) {
				re = &runError{msg: err.Error()}
			}
			e := &Error{Rule: r.UUID, Message: re.msg}
			if re.kind == kindGeneric {
				e.Message = fmt.Sprintf("Failed to apply rule %s to node %s: %s", r.UUID, node.UUID, re.msg)
			}
			_, e.Fail = err.(*failError)
			if e.Fail {
				e.Message = err.Error()
			}
			return res, e
		}
	}
	res.TraitsChanged = !slices.Equal(res.Node.Traits, node.Traits)
	return res, nil
}

func cloneNode(n Node) Node {
	out := Node{UUID: n.UUID, Fields: make(map[string]any, len(n.Fields)), Traits: slices.Clone(n.Traits)}
	for k, v := range n.Fields {
		out.Fields[k] = clone(v)
	}
	for _, p := range n.Ports {
		cp := Port{UUID: p.UUID, Fields: make(map[string]any, len(p.Fields))}
		for k, v := range p.Fields {
			cp.Fields[k] = clone(v)
		}
		out.Ports = append(out.Ports, cp)
	}
	return out
}

// failError is the fail action's HardwareInspectionFailure.
type failError struct{ msg string }

func (e *failError) Error() string { return "Failed to inspect hardware. Reason: " + e.msg }

// run is one rule's evaluation.
type run struct {
	res       *Result
	rule      Rule
	inventory any
	mask      bool
	before    Node
}

func (r *run) ctx(item any, hasItem bool) *fmtContext {
	return &fmtContext{node: &r.res.Node, inventory: r.inventory, plugin: r.res.PluginData, item: item,
		hasItem: hasItem, mask: r.mask}
}

func (r *run) rule1() error {
	for _, c := range r.rule.Conditions {
		ok, err := r.condition(c)
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
	}
	for _, a := range r.rule.Actions {
		if err := r.actionLoop(a); err != nil {
			return err
		}
	}
	r.res.Applied = append(r.res.Applied, r.rule.UUID)
	return nil
}

// loopItems returns a step's loop as items: nil for none (an empty loop
// runs the step once without one, as Ironic's), one item for an object.
func loopItems(loop any) (items []any, isLoop bool) {
	switch l := loop.(type) {
	case []any:
		return l, len(l) > 0
	case *Object:
		return []any{l}, l.Len() > 0
	}
	return nil, false
}

// condition is Ironic's check_with_loop and check_condition.
func (r *run) condition(c Step) (bool, error) {
	items, isLoop := loopItems(c.Loop)
	if !isLoop {
		return r.check(c, nil, false)
	}
	multiple := c.Multiple
	if multiple == "" {
		multiple = "any"
	}
	if _, isObj := c.Loop.(*Object); isObj {
		res, err := r.check(c, items[0], true)
		if err != nil || multiple == "first" || multiple == "last" {
			return res, err
		}
		return res, nil
	}
	var results []bool
	for _, it := range items {
		res, err := r.check(c, it, true)
		if err != nil {
			return false, err
		}
		results = append(results, res)
		if multiple == "first" && res {
			return true, nil
		} else if multiple == "last" {
			results = []bool{res}
		}
	}
	switch multiple {
	case "any":
		return slices.Contains(results, true), nil
	case "all":
		return !slices.Contains(results, false), nil
	}
	return len(results) > 0 && results[0], nil
}

// args is Ironic's _process_args: list arguments named by the signature,
// the formatted ones (all in a loop) interpolated.
func (r *run) args(sig signature, raw any, item any, loop bool) (*Object, error) {
	named := NewObject()
	switch a := raw.(type) {
	case *Object:
		for k, v := range a.All() {
			named.Set(k, v)
		}
	case []any:
		if sig.pluginData {
			a = append(slices.Clone(a), NewObject())
		}
		if len(a) < len(sig.required) {
			return nil, &runError{kind: kindIronic, msg: "Inspection rule validation failed. Reason: " +
				"Not enough arguments provided. Missing: " + strings.Join(sig.required[len(a):], ", ")}
		}
		for i, name := range sig.required {
			named.Set(name, a[i])
		}
		for i, name := range sig.optional {
			if len(sig.required)+i < len(a) {
				named.Set(name, a[len(sig.required)+i])
			}
		}
	default:
		return nil, generic("'%s' object has no attribute 'items'", pyTypeName(raw))
	}
	ctx := r.ctx(item, loop)
	for _, k := range named.Keys() {
		if loop || slices.Contains(sig.formatted, k) {
			named.Set(k, ctx.interpolate(named.Value(k), loop))
		}
	}
	for _, k := range sig.required {
		if _, ok := named.Get(k); !ok && !(sig.pluginData && k == "plugin_data") {
			return nil, generic("__call__() missing 1 required positional argument: '%s'", k)
		}
	}
	for _, k := range named.Keys() {
		if !slices.Contains(sig.required, k) && !slices.Contains(sig.optional, k) {
			return nil, generic("__call__() got an unexpected keyword argument '%s'", k)
		}
	}
	return named, nil
}

// check is one condition check, inverted when its operator says so.
func (r *run) check(c Step, item any, loop bool) (bool, error) {
	name, inverted, err := ParseInverted(c.Op)
	if err != nil {
		return false, generic("%s", err)
	}
	sig, ok := operatorSig(name)
	if !ok {
		return false, generic("Unsupported operator: '%s'. Supported operators are: %s.", name,
			strings.Join(OperatorNames(), ", "))
	}
	a, err := r.args(sig, c.Args, item, loop)
	if err != nil {
		return false, err
	}
	if loop && slices.Contains(sig.optional, "force_strings") {
		a.Set("force_strings", true)
	}
	res, err := r.operator(name, a)
	if err != nil {
		return false, err
	}
	return res != inverted, nil
}

// operator runs one operator on its processed arguments.
func (r *run) operator(name string, a *Object) (bool, error) {
	value := a.Value("value")
	switch name {
	case "eq", "lt", "gt":
		values, ok := a.Value("values").([]any)
		if !ok {
			return false, &runError{kind: kindHardware, msg: fmt.Sprintf("Inspection rule condition check failed. "+
				"Reason: Failed to check condition: '%s' on values: %s: Expected list for 'values', got: %s",
				name, pyStr(a.Value("values"), r.mask), pyTypeName(a.Value("values")))}
		}
		if len(values) < 2 {
			return true, nil
		}
		if jsonwire.Truthy(a.Value("force_strings")) {
			strs := make([]any, len(values))
			for i, v := range values {
				strs[i] = pyStr(v, r.mask)
			}
			values = strs
		}
		for i := 0; i+1 < len(values); i++ {
			var ok bool
			var err error
			switch name {
			case "eq":
				ok = pyEqual(values[i], values[i+1])
			case "lt":
				ok, err = pyLess(values[i], values[i+1], "<")
			case "gt":
				ok, err = pyLess(values[i+1], values[i], ">")
				if ue, isU := err.(*errUnorderable); isU {
					ue.a, ue.b = ue.b, ue.a
				}
			}
			if err != nil {
				return false, generic("%s", err)
			}
			if !ok {
				return false, nil
			}
		}
		return true, nil
	case "is-empty":
		s := pyStr(value, r.mask)
		return s == "" || s == "None" || s == "[]" || s == "{}", nil
	case "in-net":
		return inNet(a.Value("address"), a.Value("subnet"))
	case "is-true":
		switch v := value.(type) {
		case bool:
			return v, nil
		case int64, float64:
			return jsonwire.Truthy(v), nil
		case string:
			l := strings.ToLower(v)
			return l == "yes" || l == "true", nil
		}
		return false, nil
	case "is-false":
		switch v := value.(type) {
		case bool:
			return !v, nil
		case int64, float64:
			return !jsonwire.Truthy(v), nil
		case string:
			l := strings.ToLower(v)
			return l == "no" || l == "false", nil
		}
		return value == nil, nil
	case "is-none":
		return value == nil, nil
	case "one-of":
		switch vs := a.Value("values").(type) {
		case nil:
			if _, given := a.Get("values"); !given {
				return false, nil // the default, []
			}
			return false, generic("argument of type 'NoneType' is not iterable")
		case []any:
			for _, v := range vs {
				if pyEqual(value, v) {
					return true, nil
				}
			}
			return false, nil
		case string:
			s, ok := value.(string)
			if !ok {
				return false, generic("'in <string>' requires string as left operand, not %s", pyTypeName(value))
			}
			return strings.Contains(vs, s), nil
		case *Object:
			s, ok := value.(string)
			if !ok {
				return false, nil
			}
			_, in := vs.Get(s)
			return in, nil
		default:
			return false, generic("argument of type '%s' is not iterable", pyTypeName(vs))
		}
	case "matches", "contains":
		re, ok := a.Value("regex").(string)
		if !ok {
			return false, generic("first argument must be string or compiled pattern")
		}
		if _, err := regexp.Compile(re); err != nil {
			return false, executionFailure("invalid regular expression: %s", err)
		}
		if name == "contains" {
			return regexp.MustCompile(re).MatchString(pyStr(value, r.mask)), nil
		}
		if re == "" {
			return false, generic("string index out of range")
		}
		if !strings.HasSuffix(re, "$") {
			re += "$"
		}
		return regexp.MustCompile(`^(?:` + re + `)`).MatchString(pyStr(value, r.mask)), nil
	}
	return false, generic("Unsupported operator '%s'.", name)
}

// inNet is the in-net operator: address within subnet (a CIDR, or one
// address).
func inNet(address, subnet any) (bool, error) {
	s, ok := subnet.(string)
	if !ok {
		return false, executionFailure("invalid value: invalid IPNetwork %s", pyStr(subnet, false))
	}
	var prefix netip.Prefix
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return false, executionFailure("invalid value: invalid IPNetwork %s", s)
		}
		prefix = p.Masked()
	} else {
		ip, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			return false, executionFailure("invalid value: invalid IPNetwork %s", s)
		}
		prefix = netip.PrefixFrom(ip, ip.BitLen())
	}
	as, ok := address.(string)
	if !ok {
		return false, generic("failed to detect a valid IP address from %s", pyStr(address, false))
	}
	ip, err := netip.ParseAddr(strings.TrimSpace(as))
	if err != nil {
		return false, generic("failed to detect a valid IP address from %s", pyQuote(as))
	}
	return prefix.Contains(ip), nil
}

// actionLoop is Ironic's execute_with_loop and execute_action.
func (r *run) actionLoop(a Step) error {
	items, isLoop := loopItems(a.Loop)
	if !isLoop {
		return r.action(a, nil, false)
	}
	for _, it := range items {
		if err := r.action(a, it, true); err != nil {
			return err
		}
	}
	return nil
}

// action runs one action.
func (r *run) action(a Step, item any, loop bool) error {
	sig, ok := actionSig(a.Op)
	if !ok {
		return generic("Unsupported action: '%s'. Supported actions are: %s.", a.Op,
			strings.Join(ActionNames(), ", "))
	}
	args, err := r.args(sig, a.Args, item, loop)
	if err != nil {
		return err
	}
	g := func(k string) any { return args.Value(k) }
	path := g("path")
	switch a.Op {
	case "fail":
		return &failError{msg: pyStr(g("msg"), r.mask)}
	case "log":
		level := "info"
		if l, given := args.Get("level"); given {
			ls, isStr := l.(string)
			if !isStr {
				return generic("'%s' object has no attribute 'lower'", pyTypeName(l))
			}
			level = strings.ToLower(ls)
		}
		if !slices.Contains([]string{"debug", "info", "warning", "error", "critical"}, level) {
			return executionFailure("Invalid log level: %s. Choose from %s", level,
				"{'debug', 'info', 'warning', 'error', 'critical'}")
		}
		r.res.Logs = append(r.res.Logs, LogEntry{Rule: r.rule.UUID, Level: level, Msg: pyStr(g("msg"), r.mask)})
	case "set-attribute":
		if err := setPath(r.res.Node.Fields, "Node", path, g("value"), r.nodeChanged); err != nil {
			return actionFailure("Failed to set attribute %s with value %s: %s", pyStr(path, false),
				pyStr(g("value"), r.mask), err)
		}
	case "extend-attribute":
		if err := extendPath(r.res.Node.Fields, "Node", path, g("value"), jsonwire.Truthy(g("unique")), r.nodeChanged); err != nil {
			return actionFailure("Failed to extend attribute %s: %s", pyStr(path, false), err)
		}
	case "del-attribute":
		if err := delPath(r.res.Node.Fields, "Node", path, r.nodeChanged); err != nil {
			return actionFailure("Failed to delete attribute at %s: %s", pyStr(path, false), err)
		}
	case "add-trait":
		name, ok := g("name").(string)
		if !ok {
			return actionFailure("Failed to add new trait %s: trait must be a string", pyStr(g("name"), false))
		}
		if !slices.Contains(r.res.Node.Traits, name) {
			r.res.Node.Traits = append(r.res.Node.Traits, name)
		}
	case "remove-trait":
		name, _ := g("name").(string)
		if i := slices.Index(r.res.Node.Traits, name); i >= 0 {
			r.res.Node.Traits = slices.Delete(r.res.Node.Traits, i, i+1)
		} else {
			r.res.Logs = append(r.res.Logs, LogEntry{Rule: r.rule.UUID, Level: "warning",
				Msg: fmt.Sprintf("Failed to remove trait %s: Node %s doesn't have a trait %s", pyStr(g("name"), false),
					r.res.Node.UUID, pyStr(g("name"), false))})
		}
	case "set-capability", "unset-capability":
		if err := r.capability(a.Op, g("name"), g("value")); err != nil {
			verb := "set"
			if a.Op == "unset-capability" {
				verb = "unset"
			}
			return actionFailure("Failed to %s capability %s: %s", verb, pyStr(g("name"), false), err)
		}
	case "set-plugin-data":
		if err := setNested(r.res.PluginData, path, g("value")); err != nil {
			return actionFailure("Failed to set plugin data at %s: %s", pyStr(path, false), err)
		}
	case "extend-plugin-data":
		if err := extendNested(r.res.PluginData, path, g("value"), jsonwire.Truthy(g("unique"))); err != nil {
			return actionFailure("Failed to extend plugin data at %s: %s", pyStr(path, false), err)
		}
	case "unset-plugin-data":
		found, err := unsetNested(r.res.PluginData, path)
		if err != nil {
			return actionFailure("Failed to unset plugin data at %s: %s", pyStr(path, false), err)
		}
		if !found {
			r.res.Logs = append(r.res.Logs, LogEntry{Rule: r.rule.UUID, Level: "warning",
				Msg: fmt.Sprintf("Path %s not found", pyStr(path, false))})
		}
	case "set-port-attribute", "extend-port-attribute", "del-port-attribute":
		return r.portAction(a.Op, args)
	}
	return nil
}

func (r *run) nodeChanged(field string) {
	if !slices.Contains(r.res.ChangedFields, field) {
		r.res.ChangedFields = append(r.res.ChangedFields, field)
	}
}

// capability is Ironic's add_node_capability and remove_node_capability.
func (r *run) capability(op string, name, value any) error {
	props, ok := r.res.Node.Fields["properties"].(*Object)
	if !ok {
		props = NewObject()
	}
	caps, has := props.Get("capabilities")
	if op == "set-capability" {
		ns, nok := name.(string)
		vs, vok := value.(string)
		if !nok {
			return fmt.Errorf("sequence item 0: expected str instance, %s found", pyTypeName(name))
		}
		if !vok {
			return fmt.Errorf("sequence item 1: expected str instance, %s found", pyTypeName(value))
		}
		newCap := ns + ":" + vs
		if jsonwire.Truthy(caps) {
			cs, ok := caps.(string)
			if !ok {
				return fmt.Errorf("sequence item 0: expected str instance, %s found", pyTypeName(caps))
			}
			newCap = cs + "," + newCap
		}
		props.Set("capabilities", newCap)
	} else {
		if !has {
			caps = ""
		}
		cs, ok := caps.(string)
		if !ok {
			return fmt.Errorf("'%s' object has no attribute 'split'", pyTypeName(caps))
		}
		var kept []string
		for _, c := range strings.Split(cs, ",") {
			if !strings.HasPrefix(c, pyStr(name, false)+":") {
				kept = append(kept, c)
			}
		}
		props.Set("capabilities", strings.Join(kept, ","))
	}
	r.res.Node.Fields["properties"] = props
	r.nodeChanged("properties")
	return nil
}

// portAction runs a port action on the node's port args names.
func (r *run) portAction(op string, args *Object) error {
	id := args.Value("port_id")
	var port *Port
	for i := range r.res.Node.Ports {
		if pyEqual(r.res.Node.Ports[i].UUID, id) {
			port = &r.res.Node.Ports[i]
		}
	}
	if port == nil {
		return &runError{kind: kindIronic, msg: fmt.Sprintf("Port %s could not be found.", pyStr(id, false))}
	}
	changed := func(f string) {
		if !slices.Contains(r.res.ChangedPorts[port.UUID], f) {
			r.res.ChangedPorts[port.UUID] = append(r.res.ChangedPorts[port.UUID], f)
		}
	}
	path, value := args.Value("path"), args.Value("value")
	var err error
	switch op {
	case "set-port-attribute":
		err = setPath(port.Fields, "Port", path, value, changed)
	case "extend-port-attribute":
		err = extendPath(port.Fields, "Port", path, value, jsonwire.Truthy(args.Value("unique")), changed)
	case "del-port-attribute":
		err = delPath(port.Fields, "Port", path, changed)
	}
	if err == nil {
		return nil
	}
	verb := map[string]string{"set-port-attribute": "set attribute", "extend-port-attribute": "extend attribute",
		"del-port-attribute": "delete attribute"}[op]
	return actionFailure("Failed to %s %s for port %s: %s", verb, pyStr(path, false), port.UUID, err)
}

// normalizePath is Ironic's normalize_path: "/a/b" or "a.b" as parts.
func normalizePath(path any) ([]string, error) {
	s, ok := path.(string)
	if !ok {
		return nil, fmt.Errorf("argument of type '%s' is not iterable", pyTypeName(path))
	}
	if strings.Contains(s, "/") {
		return strings.Split(strings.Trim(s, "/"), "/"), nil
	}
	return strings.Split(s, "."), nil
}

// walk returns the object at parts[1:len-1] under fields[parts[0]],
// creating missing objects (Python's setdefault(part, {})).
func walk(fields map[string]any, typ string, parts []string, create bool) (*Object, error) {
	base, ok := fields[parts[0]]
	if !ok {
		return nil, fmt.Errorf("'%s' object has no attribute '%s'", typ, parts[0])
	}
	cur := base
	for _, p := range parts[1 : len(parts)-1] {
		o, ok := cur.(*Object)
		if !ok {
			if create {
				return nil, fmt.Errorf("'%s' object has no attribute 'setdefault'", pyTypeName(cur))
			}
			return nil, fmt.Errorf("'%s' object is not subscriptable", pyTypeName(cur))
		}
		next, has := o.Get(p)
		if !has {
			if !create {
				return nil, fmt.Errorf("%s", pyQuote(p))
			}
			next = NewObject()
			o.Set(p, next)
		}
		cur = next
	}
	o, ok := cur.(*Object)
	if !ok {
		if cur == nil {
			return nil, fmt.Errorf("'NoneType' object does not support item assignment")
		}
		return nil, fmt.Errorf("'%s' object does not support item assignment", pyTypeName(cur))
	}
	return o, nil
}

// setPath is set-attribute on fields.
func setPath(fields map[string]any, typ string, path, value any, changed func(string)) error {
	parts, err := normalizePath(path)
	if err != nil {
		return err
	}
	if len(parts) == 1 {
		if _, known := fields[parts[0]]; known {
			fields[parts[0]] = clone(value)
			changed(parts[0])
		}
		return nil
	}
	o, err := walk(fields, typ, parts, true)
	if err != nil {
		return err
	}
	o.Set(parts[len(parts)-1], clone(value))
	changed(parts[0])
	return nil
}

// extendPath is extend-attribute on fields.
func extendPath(fields map[string]any, typ string, path, value any, unique bool, changed func(string)) error {
	parts, err := normalizePath(path)
	if err != nil {
		return err
	}
	var cur any
	var store func(list []any)
	if len(parts) == 1 {
		v, known := fields[parts[0]]
		if !known {
			v = []any{}
		}
		cur = v
		store = func(list []any) {
			if known {
				fields[parts[0]] = list
				changed(parts[0])
			}
		}
	} else {
		o, err := walk(fields, typ, parts, true)
		if err != nil {
			return err
		}
		last := parts[len(parts)-1]
		v, has := o.Get(last)
		if !has {
			v = []any{}
			o.Set(last, v)
		}
		cur = v
		store = func(list []any) { o.Set(last, list); changed(parts[0]) }
	}
	list, ok := cur.([]any)
	if !ok {
		// Ironic raises its failure inside the try that wraps it in another.
		return actionFailure("Cannot extend non-list attribute %s with value %s", pyStr(path, false),
			pyStr(value, false))
	}
	if !unique || !slices.ContainsFunc(list, func(e any) bool { return pyEqual(e, value) }) {
		list = append(list, clone(value))
	}
	store(list)
	return nil
}

// delPath is del-attribute on fields. Deleting a whole field changes
// nothing (an Ironic node object does not save a deleted field).
func delPath(fields map[string]any, typ string, path any, changed func(string)) error {
	parts, err := normalizePath(path)
	if err != nil {
		return err
	}
	if len(parts) == 1 {
		if _, known := fields[parts[0]]; !known {
			return fmt.Errorf("%s", parts[0])
		}
		return nil
	}
	o, err := walk(fields, typ, parts, false)
	if err != nil {
		return err
	}
	last := parts[len(parts)-1]
	if _, has := o.Get(last); !has {
		return fmt.Errorf("%s", pyQuote(last))
	}
	o.Delete(last)
	changed(parts[0])
	return nil
}

// keyPath is a plugin data path: "a.b" or a list of keys.
func keyPath(path any) ([]string, error) {
	switch p := path.(type) {
	case string:
		return strings.Split(p, "."), nil
	case []any:
		out := make([]string, len(p))
		for i, k := range p {
			s, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("keys must be str, int, float, bool or None, not %s", pyTypeName(k))
			}
			out[i] = s
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("list index out of range")
		}
		return out, nil
	}
	return nil, fmt.Errorf("'%s' object is not iterable", pyTypeName(path))
}

// setNested is Ironic's update_nested_dict.
func setNested(d, path, value any) error {
	keys, err := keyPath(path)
	if err != nil {
		return err
	}
	cur := d
	for _, k := range keys[:len(keys)-1] {
		o, ok := cur.(*Object)
		if !ok {
			return fmt.Errorf("'%s' object has no attribute 'setdefault'", pyTypeName(cur))
		}
		next, has := o.Get(k)
		if !has {
			next = NewObject()
			o.Set(k, next)
		}
		cur = next
	}
	o, ok := cur.(*Object)
	if !ok {
		return fmt.Errorf("'%s' object does not support item assignment", pyTypeName(cur))
	}
	o.Set(keys[len(keys)-1], clone(value))
	return nil
}

// extendNested is the extend-plugin-data action.
func extendNested(d, path, value any, unique bool) error {
	keys, err := keyPath(path)
	if err != nil {
		return err
	}
	var cur any = d
	for _, k := range keys {
		o, ok := cur.(*Object)
		if !ok {
			cur = nil
			break
		}
		cur, ok = o.Get(k)
		if !ok {
			cur = nil
			break
		}
	}
	if !jsonwire.Truthy(cur) {
		cur = []any{}
	}
	list, isList := cur.([]any)
	if !isList {
		if err := setNested(d, path, cur); err != nil {
			return err
		}
		return fmt.Errorf("'%s' object has no attribute 'append'", pyTypeName(cur))
	}
	if !unique || !slices.ContainsFunc(list, func(e any) bool { return pyEqual(e, value) }) {
		list = append(list, clone(value))
	}
	return setNested(d, path, list)
}

// unsetNested is Ironic's _unset_nested_dict, quirks included: the last
// member of an object removes the object itself from its parent, and the
// last member at the top is kept.
func unsetNested(d, path any) (bool, error) {
	keys, err := keyPath(path)
	if err != nil {
		return false, err
	}
	cur := d
	for _, k := range keys[:len(keys)-1] {
		o, ok := cur.(*Object)
		if !ok {
			return false, nil
		}
		next, has := o.Get(k)
		if !has {
			return false, nil
		}
		cur = next
	}
	o, ok := cur.(*Object)
	target := keys[len(keys)-1]
	if !ok {
		return false, nil
	}
	if _, has := o.Get(target); !has {
		return false, nil
	}
	if o.Len() == 1 {
		if len(keys) > 1 {
			parent := d
			for _, k := range keys[:len(keys)-2] {
				parent, _ = parent.(*Object).Get(k)
			}
			parent.(*Object).Delete(keys[len(keys)-2])
		}
		return true, nil
	}
	o.Delete(target)
	return true, nil
}
