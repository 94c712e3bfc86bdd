package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/ferric-project/ferric/jsonwire"
	"github.com/ferric-project/ferric/store"
)

// A resource's representation is declared once, as a table of fields in
// Ironic's order (nodeFields, portFields, chassisFields). The table drives
// rendering, ?fields= and its version gates, the create and PATCH schemas,
// reject_fields_in_newer_versions, writing a create body or a patched
// document to the stored value, the PATCH document and the sort key
// checks. The store declares the same fields once as columns
// (store.nodeColumns and its sort keys).

// kind is the Go type of a field's value, which says how it is rendered,
// shown in a PATCH document and written.
type kind uint8

const (
	kString     kind = iota // string, shown as a string
	kStringNull             // string, "" shown as null
	kStringPtr              // *string
	kBool                   // bool
	kBoolPtr                // *bool
	kObject                 // a stored JSON object
	kStrings                // []string
	kTime                   // time.Time, the zero time shown as null
	kTimePtr                // *time.Time
	kInt32                  // int32, a JSON integer
	kComputed               // rendered by render only
)

// mask says how a JSON object's secrets are hidden when shown and kept when
// a client sends the placeholder back.
type mask uint8

const (
	maskNone     mask = iota
	maskSecrets       // driver_info: secret keys
	maskInstance      // instance_info: secret keys, configdrive and image_url
	maskToken         // driver_internal_info: the agent token
)

// Input flags: where a field is accepted.
const (
	inCreate   = 1 << iota // in create bodies
	inPatch                // by PATCH (Ironic's PATCH_ALLOWED_FIELDS)
	inRequired             // required in both
)

// field is one member of a resource's Ironic representation; T is the
// stored type (store.Node, store.Port, store.Chassis).
type field[T any] struct {
	name string
	key  string // `"name":`, set by newResource
	min  int    // the first microversion that shows it and accepts it as input
	kind kind

	// The accessor of the stored value: the one kind says.
	str     func(*T) *string
	strp    func(*T) **string
	boolean func(*T) *bool
	boolp   func(*T) **bool
	raw     func(*T) *json.RawMessage
	strs    func(*T) *[]string
	tm      func(*T) *time.Time
	tmp     func(*T) **time.Time
	i32     func(*T) *int32

	// render, when set, renders the value instead of kind.
	render func(b []byte, v *view, t *T) []byte
	mask   mask

	// Input: where the field is accepted (in* flags) and its schema.
	in   int
	prop prop
	// blank: the field's empty value is "" rather than null
	// (reject_fields_in_newer_versions compares with it).
	blank bool
	// check validates and normalizes a string value before it is written.
	check func(s string, in *input) (string, error)
	// set, when set, writes a schema-valid value (nil: unset) instead of
	// kind.
	set func(t *T, val any, in *input) error

	// last: listed after the sorted others in PATCH's "Only the following
	// can be updated" message (Ironic 29 appended it to its list).
	last bool
	// ungated: PATCH accepts it whatever the version (Ironic checks no
	// version for it, a port's name).
	ungated  bool
	hidden   bool // not accepted in ?fields=
	computed bool // computed by the API: listed after links with ?fields= (nodes)
	// mandatory: a PATCH may set it to null but not remove it (portgroup
	// mode).
	mandatory bool
}

// Field constructors, one per kind; options are set on what they return.

func strField[T any](name string, min int, p func(*T) *string) field[T] {
	return field[T]{name: name, min: min, kind: kString, str: p}
}

func strNullField[T any](name string, min int, p func(*T) *string) field[T] {
	return field[T]{name: name, min: min, kind: kStringNull, str: p}
}

func strPtrField[T any](name string, min int, p func(*T) **string) field[T] {
	return field[T]{name: name, min: min, kind: kStringPtr, strp: p}
}

func boolField[T any](name string, min int, p func(*T) *bool) field[T] {
	return field[T]{name: name, min: min, kind: kBool, boolean: p}
}

func boolPtrField[T any](name string, min int, p func(*T) **bool) field[T] {
	return field[T]{name: name, min: min, kind: kBoolPtr, boolp: p}
}

func objectField[T any](name string, min int, p func(*T) *json.RawMessage) field[T] {
	return field[T]{name: name, min: min, kind: kObject, raw: p}
}

func stringsField[T any](name string, min int, p func(*T) *[]string) field[T] {
	return field[T]{name: name, min: min, kind: kStrings, strs: p}
}

func timeField[T any](name string, p func(*T) *time.Time) field[T] {
	return field[T]{name: name, min: 1, kind: kTime, tm: p}
}

func timePtrField[T any](name string, min int, p func(*T) **time.Time) field[T] {
	return field[T]{name: name, min: min, kind: kTimePtr, tmp: p}
}

func int32Field[T any](name string, min int, p func(*T) *int32) field[T] {
	return field[T]{name: name, min: min, kind: kInt32, i32: p}
}

// computedField is rendered by render alone (null, a link, the conductor).
func computedField[T any](name string, min int, render func(b []byte, v *view, t *T) []byte) field[T] {
	return field[T]{name: name, min: min, kind: kComputed, render: render}
}

// linkField is a link pair to <collection><uuid><suffix>; a link member
// other than links is never listed by ?fields=.
func linkField[T any](name string, min int, collection string, uuid func(*T) *string, suffix string) field[T] {
	f := computedField(name, min, func(b []byte, v *view, t *T) []byte {
		return appendLinksParts(b, v.escBase, collection, *uuid(t), suffix)
	})
	f.hidden = name != "links"
	return f
}

// uuidField is a resource's UUID: accepted on create, generated when absent.
func uuidField[T any](p func(*T) *string) field[T] {
	f := strField("uuid", 1, p).input(tStringNull, inCreate)
	f.set = func(t *T, val any, _ *input) error {
		u, err := argUUID("uuid", val)
		if err != nil {
			return err
		}
		if u != nil {
			*p(t) = *u
		}
		return nil
	}
	return f
}

// Options of a field.

// input makes f accepted where flags say, with schema p.
func (f field[T]) input(p prop, flags int) field[T] { f.prop, f.in = p, flags; return f }

// checked makes f's string values go through check.
func (f field[T]) checked(check func(s string, in *input) (string, error)) field[T] {
	f.check = check
	return f
}

// setBy makes set write f's values.
func (f field[T]) setBy(set func(t *T, val any, in *input) error) field[T] { f.set = set; return f }

// masked hides f's secrets (a JSON object) as m says.
func (f field[T]) masked(m mask) field[T] { f.mask = m; return f }

// patchUngated accepts f in PATCH at any version.
func (f field[T]) patchUngated() field[T] { f.ungated = true; return f }

// listedLast lists f after the sorted patchable fields.
func (f field[T]) listedLast() field[T] { f.last = true; return f }

// hide refuses f in ?fields=.
func (f field[T]) hide() field[T] { f.hidden = true; return f }

// apiComputed lists f after links with ?fields=.
func (f field[T]) apiComputed() field[T] { f.computed = true; return f }

// unremovable refuses a PATCH that removes f.
func (f field[T]) unremovable() field[T] { f.mandatory = true; return f }

// blankEmpty makes "" f's empty value.
func (f field[T]) blankEmpty() field[T] { f.blank = true; return f }

// renderBy renders f with r.
func (f field[T]) renderBy(r func(b []byte, v *view, t *T) []byte) field[T] { f.render = r; return f }

// appendValue renders f's value in t.
func (f *field[T]) appendValue(b []byte, v *view, t *T) []byte {
	if f.render != nil {
		return f.render(b, v, t)
	}
	switch f.kind {
	case kString:
		return jsonwire.AppendString(b, *f.str(t))
	case kStringNull:
		return jsonwire.AppendStringOrNull(b, *f.str(t))
	case kStringPtr:
		return jsonwire.AppendStringPtr(b, *f.strp(t))
	case kBool:
		return jsonwire.AppendBool(b, *f.boolean(t))
	case kBoolPtr:
		return jsonwire.AppendBoolPtr(b, *f.boolp(t))
	case kObject:
		switch raw := *f.raw(t); f.mask {
		case maskSecrets:
			return appendMasked(b, raw, false)
		case maskInstance:
			return appendMasked(b, raw, true)
		case maskToken:
			return appendDriverInternalInfo(b, raw)
		default:
			return jsonwire.AppendRawObject(b, raw)
		}
	case kStrings:
		return jsonwire.AppendStrings(b, *f.strs(t))
	case kTime:
		if tm := *f.tm(t); !tm.IsZero() {
			return jsonwire.AppendTime(b, tm)
		}
	case kTimePtr:
		return jsonwire.AppendTimePtr(b, *f.tmp(t))
	case kInt32:
		return strconv.AppendInt(b, int64(*f.i32(t)), 10)
	}
	return append(b, "null"...)
}

// value is f's value in t as a member of a PATCH document.
func (f *field[T]) value(t *T) any {
	switch f.kind {
	case kString:
		return *f.str(t)
	case kStringNull:
		if s := *f.str(t); s != "" {
			return s
		}
	case kStringPtr:
		if s := *f.strp(t); s != nil {
			return *s
		}
	case kBool:
		return *f.boolean(t)
	case kBoolPtr:
		if b := *f.boolp(t); b != nil {
			return *b
		}
	case kObject:
		return decodeObject(*f.raw(t))
	case kInt32:
		return json.Number(strconv.FormatInt(int64(*f.i32(t)), 10))
	}
	return nil
}

// write stores a schema-valid value (nil: the field's empty value) in t,
// with Ironic's value checks.
func (f *field[T]) write(t *T, val any, in *input) error {
	if f.set != nil {
		return f.set(t, val, in)
	}
	s, isStr := val.(string)
	if isStr && f.check != nil {
		var err error
		if s, err = f.check(s, in); err != nil {
			return err
		}
	}
	switch f.kind {
	case kString, kStringNull:
		*f.str(t) = s
	case kStringPtr:
		if !isStr {
			*f.strp(t) = nil
		} else {
			*f.strp(t) = &s
		}
	case kBool, kBoolPtr:
		b, err := argBool(f.name, val)
		if err != nil {
			return err
		}
		if f.kind == kBoolPtr {
			*f.boolp(t) = b
		} else {
			*f.boolean(t) = b != nil && *b
		}
	case kObject:
		raw := json.RawMessage("{}")
		if val != nil {
			raw = encodeValue(val)
		}
		*f.raw(t) = raw
	case kInt32:
		n, err := argInt32(f.name, val)
		if err != nil {
			return err
		}
		*f.i32(t) = n
	}
	return nil
}

// input is what writing a create body or a patched document needs besides
// the values.
type input struct {
	c       *fiber.Ctx
	s       *Server
	v       int    // the negotiated microversion
	nameErr string // the message (format) for an invalid node name
	// creating: a create body, not a patched document (volume objects name
	// a missing node differently in each)
	creating bool
}

// view carries what rendering needs besides the object.
type view struct {
	minor     int
	base      string // public URL, no trailing slash
	escBase   string // base, escaped for a JSON string
	conductor string
}

// plan is the ordered list of a resource's fields rendered for one
// request (indexes into its table).
type plan []uint8

// resource is a table of fields with what it builds, computed once.
type resource[T any] struct {
	member string // the collection's member in list documents ("nodes")
	fields []field[T]
	index  map[string]int
	// askedOrder: ?fields= lists members in the order asked (nodes:
	// Ironic's object_to_dict), not the table's.
	askedOrder bool
	// sortKeys are the keys the store sorts by.
	sortKeys []string
	// badFields is the resource's message for unknown ?fields= names.
	badFields func(names []string) *apiError
	full      []plan // by microversion
	patchable []string
	create    *schema
	patch     *schema
}

// newResource builds a resource over fields (at most 256).
func newResource[T any](member string, fields []field[T], askedOrder bool, sortKeys []string,
	badFields func([]string) *apiError) *resource[T] {
	r := &resource[T]{member: member, fields: fields, index: make(map[string]int, len(fields)),
		askedOrder: askedOrder, sortKeys: sortKeys, badFields: badFields,
		create: &schema{props: map[string]prop{}}, patch: &schema{props: map[string]prop{}}}
	for i, f := range fields {
		fields[i].key = `"` + f.name + `":`
		r.index[f.name] = i
		if f.in&inCreate != 0 {
			r.create.props[f.name] = f.prop
		}
		if f.in&inPatch != 0 {
			r.patch.props[f.name] = f.prop
			r.patchable = append(r.patchable, f.name)
		}
		if f.in&inRequired != 0 {
			r.create.required = append(r.create.required, f.name)
			r.patch.required = append(r.patch.required, f.name)
		}
	}
	// Ironic's PATCH_ALLOWED_FIELDS are sorted, but for the fields
	// Ironic 29 appended, in the order their versions came.
	sort.SliceStable(r.patchable, func(i, j int) bool {
		a, b := &r.fields[r.index[r.patchable[i]]], &r.fields[r.index[r.patchable[j]]]
		if a.last != b.last {
			return !a.last
		}
		if a.last {
			return a.min < b.min
		}
		return a.name < b.name
	})
	r.full = make([]plan, maxMinor+1)
	for v := range r.full {
		for i, f := range fields {
			if v >= f.min {
				r.full[v] = append(r.full[v], uint8(i))
			}
		}
	}
	return r
}

// selectable returns the index of the field a client may name in ?fields=.
func (r *resource[T]) selectable(name string) (int, bool) {
	i, ok := r.index[name]
	if !ok || r.fields[i].hidden {
		return 0, false
	}
	return i, true
}

// fullPlan is the full representation at microversion v.
func (r *resource[T]) fullPlan(v int) plan { return r.full[min(max(v, 0), maxMinor)] }

// fieldsPlan is the representation for ?fields=names (already checked):
// the fields asked for and links. Nodes list uuid first, then the other
// object fields in the order asked, links, then the API-computed fields,
// as Ironic's object_to_dict and sanitize_dict produce; ports and chassis
// list them in the table's order.
func (r *resource[T]) fieldsPlan(v int, names []string) plan {
	var buf [256]bool // a table has at most 256 fields
	want := buf[:len(r.fields)]
	for _, name := range names {
		if i, ok := r.selectable(name); ok && v >= r.fields[i].min {
			want[i] = true
		}
	}
	links := r.index["links"]
	p := make(plan, 0, len(names)+1)
	if !r.askedOrder {
		for i, f := range r.fields {
			if v >= f.min && (want[i] || i == links) {
				p = append(p, uint8(i))
			}
		}
		return p
	}
	uuid := r.index["uuid"]
	if want[uuid] {
		p = append(p, uint8(uuid))
	}
	for _, name := range names {
		i, ok := r.selectable(name)
		if !ok || !want[i] || i == uuid || r.fields[i].computed {
			continue
		}
		want[i] = false // each once, at its first mention
		p = append(p, uint8(i))
	}
	p = append(p, uint8(links))
	for i, f := range r.fields {
		if want[i] && f.computed {
			p = append(p, uint8(i))
		}
	}
	return p
}

// namedPlan is the fields named, in that order, that v shows.
func (r *resource[T]) namedPlan(v int, names ...string) plan {
	p := make(plan, 0, len(names))
	for _, name := range names {
		if i := r.index[name]; v >= r.fields[i].min {
			p = append(p, uint8(i))
		}
	}
	return p
}

// plan is the representation returned: fields (nil: all) at v.
func (r *resource[T]) plan(v int, fields []string) plan {
	if fields == nil {
		return r.fullPlan(v)
	}
	return r.fieldsPlan(v, fields)
}

// checkFields applies Ironic's checks on ?fields=: 406 before 1.8 and for
// a field newer than v, then the resource's message for unknown names.
func (r *resource[T]) checkFields(v int, names []string) *apiError {
	if v < v8Fields {
		return notAcceptable("")
	}
	var bad []string
	for _, name := range names {
		i, ok := r.selectable(name)
		if !ok {
			bad = append(bad, name)
			continue
		}
		if v < r.fields[i].min {
			return notAcceptable("")
		}
	}
	if len(bad) > 0 {
		return r.badFields(bad)
	}
	return nil
}

// requestPlan is the representation a single-object GET asks for with
// ?fields=, checked, or the full one.
func (r *resource[T]) requestPlan(c *fiber.Ctx, v int) (plan, error) {
	fields, ok := parseFields(c)
	if !ok {
		return r.fullPlan(v), nil
	}
	if err := r.checkFields(v, fields); err != nil {
		return nil, err
	}
	return r.fieldsPlan(v, fields), nil
}

// appendObject renders t with plan p.
func (r *resource[T]) appendObject(b []byte, v *view, t *T, p plan) []byte {
	b = append(b, '{')
	for i, fi := range p {
		f := &r.fields[fi]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, f.key...)
		b = f.appendValue(b, v, t)
	}
	return append(b, '}')
}

// sendObject answers t rendered with p (nil: the full representation).
func sendObject[T any](s *Server, c *fiber.Ctx, status int, r *resource[T], t *T, p plan) error {
	vw := s.view(c)
	if p == nil {
		p = r.fullPlan(vw.minor)
	}
	return s.sendJSON(c, status, func(b []byte) []byte { return r.appendObject(b, vw, t, p) })
}

// getObject answers a single-object GET: t, with ?fields= applied.
func getObject[T any](s *Server, c *fiber.Ctx, r *resource[T], t *T) error {
	p, err := r.requestPlan(c, minor(c))
	if err != nil {
		return err
	}
	return sendObject(s, c, fiber.StatusOK, r, t, p)
}

// loadByUUID reads the object a path names by UUID: 400 when ident is not
// one (arg names the parameter in the message), notFound when there is
// none.
func loadByUUID[T any](c *fiber.Ctx, arg, ident string, get func(context.Context, string) (T, error),
	notFound func(string) *apiError) (T, error) {
	var zero T
	if !isUUIDLike(ident) {
		return zero, badRequest("Expected UUID for %s: %s", arg, ident)
	}
	t, err := get(c.UserContext(), ident)
	if errors.Is(err, store.ErrNotFound) {
		return zero, notFound(ident)
	}
	if err != nil {
		return zero, fmt.Errorf("read %s %s: %w", arg, ident, err)
	}
	return t, nil
}

// appendList renders a collection, {"<member>":[...]}, with its next link
// when there is one.
func (r *resource[T]) appendList(b []byte, v *view, items []T, p plan, next string) []byte {
	b = append(b, `{"`...)
	b = append(b, r.member...)
	b = append(b, `":[`...)
	for i := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = r.appendObject(b, v, &items[i], p)
	}
	b = append(b, ']')
	if next != "" {
		b = append(b, `,"next":`...)
		b = jsonwire.AppendString(b, next)
	}
	return append(b, '}')
}

// gateSort refuses (406) a sort key that names a field newer than v.
func (r *resource[T]) gateSort(v int, key string) *apiError {
	if i, ok := r.selectable(key); ok && v < r.fields[i].min {
		return notAcceptable("")
	}
	return nil
}

// checkSort refuses the keys Ironic cannot sort by (JSON objects and
// lists), then those the store does not sort by.
func (r *resource[T]) checkSort(key string) *apiError {
	if i, ok := r.index[key]; ok && (r.fields[i].kind == kObject || r.fields[i].kind == kStrings) {
		return badRequest("The sort_key value %s is an invalid field for sorting", key)
	}
	if !slices.Contains(r.sortKeys, key) {
		return badRequest("The sort_key value \"%s\" is an invalid field for sorting", key)
	}
	return nil
}

// rejectNewer is Ironic's reject_fields_in_newer_versions for a create
// body: a field newer than v may only carry its empty value.
func (r *resource[T]) rejectNewer(v int, body *jsonwire.Object) *apiError {
	for _, k := range body.Keys() {
		i, ok := r.index[k]
		if !ok || v >= r.fields[i].min {
			continue
		}
		val := body.Value(k)
		if r.fields[i].blank {
			if s, isStr := val.(string); !isStr || s != "" {
				return notAcceptable("")
			}
		} else if val != nil {
			return notAcceptable("")
		}
	}
	return nil
}

// decodeCreate reads a create body into t: the schema, the fields newer
// than the microversion, then the empty value of every optional field and
// the body's members, in the body's order.
func (r *resource[T]) decodeCreate(c *fiber.Ctx, name string, t *T, in *input) error {
	_, err := r.decodeCreateBody(c, name, t, in)
	return err
}

// decodeCreateBody is decodeCreate returning the body it read.
func (r *resource[T]) decodeCreateBody(c *fiber.Ctx, name string, t *T, in *input) (*jsonwire.Object, error) {
	body, err := decodeObjectBody(c, name)
	if err != nil {
		return nil, err
	}
	return body, r.decodeCreateObject(body, name, t, in)
}

// decodeCreateObject is decodeCreate over a body already read.
func (r *resource[T]) decodeCreateObject(body *jsonwire.Object, name string, t *T, in *input) error {
	if err := r.create.check(name, body); err != nil {
		return err
	}
	if err := r.rejectNewer(in.v, body); err != nil {
		return err
	}
	for i := range r.fields {
		if f := &r.fields[i]; f.in&inCreate != 0 && f.in&inRequired == 0 {
			if err := f.write(t, nil, in); err != nil {
				return err
			}
		}
	}
	for _, k := range body.Keys() {
		if err := r.fields[r.index[k]].write(t, body.Value(k), in); err != nil {
			return err
		}
	}
	return nil
}

// checkPatch refuses operations on fields that are not patchable
// (patch_validate_allowed_fields) or newer than v
// (reject_patch_in_newer_versions).
func (r *resource[T]) checkPatch(v int, ops []patchOp) *apiError {
	for _, p := range ops {
		if !slices.Contains(r.patchable, p.rootField()) {
			return badRequest("Cannot patch %s. Only the following can be updated: %s",
				p.path, strings.Join(r.patchableAt(v), ", "))
		}
	}
	for _, name := range r.patchable {
		if f := &r.fields[r.index[name]]; v < f.min && !f.ungated && len(patchValues(ops, "/"+name)) > 0 {
			return notAcceptable("")
		}
	}
	return nil
}

// maxIronic21 is Ironic 21.4's maximum microversion: its answers pin
// ferric's up to it.
const maxIronic21 = v82Shard

// patchableAt is the list of patchable fields PATCH's message names at v:
// Ironic 21.4's (the fields up to 1.82) through 1.82, Ironic 29's (all of
// them, whatever the version) past it.
func (r *resource[T]) patchableAt(v int) []string {
	if v > maxIronic21 {
		return r.patchable
	}
	var out []string
	for _, name := range r.patchable {
		if r.fields[r.index[name]].min <= maxIronic21 {
			out = append(out, name)
		}
	}
	return out
}

// doc is t's patchable fields as a JSON document.
func (r *resource[T]) doc(t *T) *jsonwire.Object {
	o := jsonwire.NewObject()
	for _, name := range r.patchable {
		o.Set(name, r.fields[r.index[name]].value(t))
	}
	return o
}

// patchObject applies ops (checked by checkPatch) to t's document, checks
// the document's schema and writes the fields ops touched back to t:
// removed members read as null, and masked secrets sent back as the
// placeholder keep their stored value.
func (r *resource[T]) patchObject(t *T, ops []patchOp, in *input) error {
	doc := r.doc(t)
	if err := applyPatch(doc, ops); err != nil {
		return err
	}
	for _, name := range r.patchable {
		if _, ok := doc.Get(name); !ok && r.fields[r.index[name]].mandatory {
			return badRequest("'%s' is a mandatory attribute and can not be removed", name)
		}
	}
	if err := r.patch.check("patch", doc); err != nil {
		return err
	}
	for _, name := range r.patchable {
		touched := slices.ContainsFunc(ops, func(p patchOp) bool { return p.rootField() == name })
		if !touched {
			continue
		}
		f := &r.fields[r.index[name]]
		val := doc.Value(name) // removed: null
		if o, ok := val.(*jsonwire.Object); ok && (f.mask == maskSecrets || f.mask == maskInstance) {
			restoreMasked(decodeObject(*f.raw(t)), o, f.mask == maskInstance)
		}
		if err := f.write(t, val, in); err != nil {
			return err
		}
	}
	return nil
}

// collectionQuery is what every collection request carries: page size,
// sort, and the fields to return.
type collectionQuery struct {
	limit            int
	sortKey, sortDir string
	fields           []string // ?fields= as given, then (returnFields) the fields shown; nil: all
	hasFields        bool
	detail           *bool // ?detail as given, for next links
}

// listResource is the path a list's links name: path, or path/detail for
// the detail list.
func listResource(path string, detailPath bool) string {
	if detailPath {
		return path + "/detail"
	}
	return path
}

// storePage is cq's page as a store list takes it: the page size, the sort
// key ("" for id, the store's own order) and whether it is descending.
func (cq *collectionQuery) storePage() (limit int, sortKey string, desc bool) {
	if cq.sortKey != "id" {
		sortKey = cq.sortKey
	}
	return cq.limit, sortKey, cq.sortDir == "desc"
}

// parseCollection reads limit, sort_key/sort_dir, fields (checked with r)
// and detail; detailPath is true for .../detail, where ?fields and ?detail
// are not read.
func parseCollection[T any](s *Server, c *fiber.Ctx, r *resource[T], detailPath bool) (collectionQuery, error) {
	var q collectionQuery
	var err error
	if q.limit, err = s.queryLimit(c); err != nil {
		return q, err
	}
	if q.sortKey, q.sortDir, err = querySort(c); err != nil {
		return q, err
	}
	if !detailPath {
		q.fields, q.hasFields = parseFields(c)
		if q.detail, err = queryBool(c, "detail"); err != nil {
			return q, err
		}
	}
	if q.hasFields {
		if aerr := r.checkFields(minor(c), q.fields); aerr != nil {
			return q, aerr
		}
	}
	return q, nil
}

// returnFields is Ironic's get_request_return_fields: ?detail needs API
// 1.43 and excludes ?fields; it sets the fields a collection shows (nil:
// all), defaults when neither is given.
func (q *collectionQuery) returnFields(v int, detailPath bool, defaults []string) error {
	if q.detail != nil && v < v43Detail {
		return badRequest("Invalid query parameter ?detail=%s received.", pyBool(*q.detail))
	}
	if q.hasFields && q.detail != nil && *q.detail {
		return badRequest("Can not specify ?detail=True and fields in the same request.")
	}
	switch {
	case detailPath || (q.detail != nil && *q.detail):
		q.fields = nil
	case !q.hasFields:
		q.fields = defaults
	}
	return nil
}

// next is the collection's next link when a page of count items, the last
// with UUID last, is full: the sort, pre, detail, post and fields
// arguments, then limit and marker.
func (q *collectionQuery) next(base, resource string, pre, post [][2]string, count int, last string) string {
	if count == 0 || count != q.limit {
		return ""
	}
	args := [][2]string{{"sort_key", q.sortKey}, {"sort_dir", q.sortDir}}
	args = append(args, pre...)
	if q.detail != nil {
		args = append(args, [2]string{"detail", pyBool(*q.detail)})
	}
	args = append(args, post...)
	if q.fields != nil {
		args = append(args, [2]string{"fields", strings.Join(q.fields, ",")})
	}
	return nextLink(base, resource, args, q.limit, last)
}

// markerID reads ?marker=: the internal id (id) of the object of that
// UUID, read with get (what names its kind in a read error), notFound when
// there is none; 0 when no marker is asked.
func markerID[T any](c *fiber.Ctx, what string, get func(context.Context, string) (T, error),
	notFound func(string) *apiError, id func(*T) int64) (int64, error) {
	marker, ok := query(c, "marker")
	if !ok {
		return 0, nil
	}
	if _, err := argUUID("marker", marker); err != nil {
		return 0, err
	}
	return readMarker(c.UserContext(), marker, what, get, notFound, id)
}

// readMarker reads the object marker names with get and returns its
// internal id; notFound when there is none.
func readMarker[T any](ctx context.Context, marker, what string, get func(context.Context, string) (T, error),
	notFound func(string) *apiError, id func(*T) int64) (int64, error) {
	m, err := get(ctx, marker)
	if errors.Is(err, store.ErrNotFound) {
		return 0, notFound(marker)
	} else if err != nil {
		return 0, fmt.Errorf("read marker %s %s: %w", what, marker, err)
	}
	return id(&m), nil
}

// sendList answers a collection page: list, its fields per cq, with the
// next link to resource (post arguments args, the last item's uuid) when
// the page is full.
func sendList[T any](s *Server, c *fiber.Ctx, r *resource[T], cq *collectionQuery, resource string,
	args [][2]string, list []T, uuid func(*T) *string) error {
	vw := s.view(c)
	var next string
	if len(list) > 0 {
		next = cq.next(vw.base, resource, nil, args, len(list), *uuid(&list[len(list)-1]))
	}
	p := r.plan(minor(c), cq.fields)
	return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte { return r.appendList(b, vw, list, p, next) })
}

// fieldsNotValid is the ports' and chassis' message for unknown ?fields=.
func fieldsNotValid(names []string) *apiError {
	return badRequest("Field(s) \"%s\" are not valid", strings.Join(names, ", "))
}
