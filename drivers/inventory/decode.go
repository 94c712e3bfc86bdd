package inventory

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
)

// Decode reads a stored inventory and plugin data (JSON objects) into a
// Document as far as their members have this package's JSON types. Ironic
// checks no more of a posted inventory than its schema (interfaces with a
// string mac_address; string or null BMC addresses) and its default hooks
// read (cpu.architecture, the interfaces), so a ramdisk may post
// "memory": {"physical_mb": "16384"} and be inspected. Decode leaves such a
// member zero (unknown: Summarize then derives nothing from it) instead of
// failing; it keeps every other member, in lists and objects too. The
// error is for an inventory that is not a JSON object; plugin data that is
// not one is ignored.
func Decode(inventory, pluginData json.RawMessage) (Document, error) {
	var doc Document
	var inv map[string]json.RawMessage
	if err := json.Unmarshal(inventory, &inv); err != nil || inv == nil {
		return doc, errors.New("inventory is not a JSON object") // no excerpt: errors reach workflow history
	}
	lenient(inventory, reflect.ValueOf(&doc.Inventory).Elem())
	if len(pluginData) > 0 {
		lenient(pluginData, reflect.ValueOf(&doc.PluginData).Elem())
	}
	return doc, nil
}

// lenient decodes b into v as json.Unmarshal does, except that a member
// (an object's field, a list's element, a map's value) whose JSON does not
// decode into its Go type is left zero: on a failure, v is decoded again
// member by member. Members are matched to fields as json.Unmarshal matches
// them (the tag's name, else any case).
func lenient(b []byte, v reflect.Value) {
	if json.Unmarshal(b, v.Addr().Interface()) == nil {
		return
	}
	v.SetZero()
	if reflect.PointerTo(v.Type()).Implements(unmarshalerType) {
		return // NullInt, NullString, LLDPTLV: their own JSON, all or nothing
	}
	switch v.Kind() {
	case reflect.Struct:
		var m map[string]json.RawMessage
		if json.Unmarshal(b, &m) == nil {
			lenientStruct(m, v)
		}
	case reflect.Slice:
		var items []json.RawMessage
		if json.Unmarshal(b, &items) != nil || items == nil {
			return
		}
		s := reflect.MakeSlice(v.Type(), len(items), len(items))
		for i, raw := range items {
			lenient(raw, s.Index(i))
		}
		v.Set(s)
	case reflect.Map:
		var m map[string]json.RawMessage
		if v.Type().Key().Kind() != reflect.String || json.Unmarshal(b, &m) != nil || m == nil {
			return
		}
		out := reflect.MakeMapWithSize(v.Type(), len(m))
		for k, raw := range m {
			e := reflect.New(v.Type().Elem()).Elem()
			lenient(raw, e)
			out.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), e)
		}
		v.Set(out)
	case reflect.Pointer:
		// A pointer to an object is set only from an object: a root_disk
		// of "sda" stays unknown (nil), not an empty disk.
		if v.Type().Elem().Kind() == reflect.Struct && !bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) {
			return
		}
		p := reflect.New(v.Type().Elem())
		lenient(b, p.Elem())
		v.Set(p)
	}
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// lenientStruct decodes the members of m into the fields of struct v (and
// of its embedded structs) with lenient.
func lenientStruct(m map[string]json.RawMessage, v reflect.Value) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-" || !f.IsExported() && !f.Anonymous:
			continue
		case f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct:
			lenientStruct(m, v.Field(i))
			continue
		case name == "":
			name = f.Name
		}
		raw, ok := m[name]
		if !ok {
			for k, r := range m {
				if strings.EqualFold(k, name) {
					raw, ok = r, true
					break
				}
			}
		}
		if ok {
			lenient(raw, v.Field(i))
		}
	}
}
