package api

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/ferric-project/ferric/jsonwire"
)

// RFC 6902 JSON patch, restricted as Ironic restricts it: operations add,
// replace and remove only, paths of [\w-] segments, no new root members.

type patchOp struct {
	op       string
	path     string
	value    any
	hasValue bool
	doc      *jsonwire.Object // the operation as sent, for error messages
}

// parsePatch reads and validates a JSON patch body.
func parsePatch(c *fiber.Ctx) ([]patchOp, error) {
	v, ok, err := decodeBody(c)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, badRequest("Missing mandatory parameter: patch")
	}
	arr, isArr := v.([]any)
	if !isArr {
		return nil, schemaError("patch", pyRepr(v)+" is not of type 'array'")
	}
	ops := make([]patchOp, 0, len(arr))
	for _, item := range arr {
		o, isObj := item.(*jsonwire.Object)
		if !isObj {
			return nil, schemaError("patch", pyRepr(item)+" is not of type 'object'")
		}
		var extra []string
		for _, k := range o.Keys() {
			if k != "op" && k != "path" && k != "value" {
				extra = append(extra, pyStr(k))
			}
		}
		if len(extra) > 0 {
			verb := "was"
			if len(extra) > 1 {
				verb = "were"
			}
			return nil, schemaError("patch", fmt.Sprintf("Additional properties are not allowed (%s %s unexpected)",
				strings.Join(extra, ", "), verb))
		}
		p := patchOp{doc: o}
		if pv, ok := o.Get("path"); ok {
			s, isStr := pv.(string)
			if !isStr {
				return nil, schemaError("patch", pyRepr(pv)+" is not of type 'string'")
			}
			if !validPatchPath(s) {
				return nil, schemaError("patch", pyRepr(s)+` does not match '^(/[\\w-]+)+$'`)
			}
			p.path = s
		}
		if ov, ok := o.Get("op"); ok {
			s, isStr := ov.(string)
			if !isStr {
				return nil, schemaError("patch", pyRepr(ov)+" is not of type 'string'")
			}
			if s != "add" && s != "replace" && s != "remove" {
				return nil, schemaError("patch", pyRepr(s)+" is not one of ['add', 'replace', 'remove']")
			}
			p.op = s
		}
		p.value, p.hasValue = o.Get("value")
		ops = append(ops, p)
	}
	return ops, nil
}

// patchError is Ironic's PatchError.
func patchError(p patchOp, reason string) *apiError {
	return badRequest("Couldn't apply patch '%s'. Reason: %s", pyRepr(p.doc), reason)
}

// rootField is the top-level member a patch path touches.
func (p patchOp) rootField() string {
	f, _, _ := strings.Cut(strings.TrimPrefix(p.path, "/"), "/")
	return f
}

// checkAllowed refuses paths outside allowed (Ironic's
// patch_validate_allowed_fields).
func checkAllowed(ops []patchOp, allowed []string) *apiError {
	for _, p := range ops {
		if !slices.Contains(allowed, p.rootField()) {
			return badRequest("Cannot patch %s. Only the following can be updated: %s",
				p.path, strings.Join(allowed, ", "))
		}
	}
	return nil
}

// patchValues returns the values set at exactly path (Ironic's
// get_patch_values).
func patchValues(ops []patchOp, path string) []any {
	var out []any
	for _, p := range ops {
		if p.path == path && p.op != "remove" {
			out = append(out, p.value)
		}
	}
	return out
}

// applyPatch applies ops to doc in order.
func applyPatch(doc *jsonwire.Object, ops []patchOp) *apiError {
	for _, p := range ops {
		if p.op == "add" && strings.Count(p.path, "/") == 1 {
			if _, ok := doc.Get(p.path[1:]); !ok {
				return badRequest("Adding a new attribute (%s) to the root of the resource is not allowed", p.path)
			}
		}
	}
	for _, p := range ops {
		if err := applyOp(doc, p); err != nil {
			return err
		}
	}
	return nil
}

func unescapeToken(t string) string {
	if !strings.Contains(t, "~") {
		return t
	}
	return strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
}

func applyOp(doc *jsonwire.Object, p patchOp) *apiError {
	if p.op == "" {
		return patchError(p, "Operation does not contain 'op' member")
	}
	if p.path == "" {
		return patchError(p, "Operation does not contain 'path' member")
	}
	if (p.op == "add" || p.op == "replace") && !p.hasValue {
		return patchError(p, "The operation does not contain a 'value' member")
	}
	tokens := strings.Split(p.path[1:], "/")
	for i := range tokens {
		tokens[i] = unescapeToken(tokens[i])
	}
	var parent any = doc
	for _, t := range tokens[:len(tokens)-1] {
		switch c := parent.(type) {
		case *jsonwire.Object:
			next, ok := c.Get(t)
			if !ok {
				return patchError(p, fmt.Sprintf("member '%s' not found in %s", t, pyRepr(c)))
			}
			parent = next
		case []any:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(c) {
				return patchError(p, fmt.Sprintf("index '%s' is out of bounds", t))
			}
			parent = c[i]
		default:
			return patchError(p, fmt.Sprintf("member '%s' not found in %s", t, pyRepr(c)))
		}
	}
	last := tokens[len(tokens)-1]
	switch c := parent.(type) {
	case *jsonwire.Object:
		_, exists := c.Get(last)
		switch p.op {
		case "add":
			c.Set(last, p.value)
		case "replace":
			if !exists {
				return patchError(p, fmt.Sprintf("can't replace a non-existent object '%s'", last))
			}
			c.Set(last, p.value)
		case "remove":
			if !exists {
				return patchError(p, fmt.Sprintf("can't remove a non-existent object '%s'", last))
			}
			c.Delete(last)
		}
		return nil
	case []any:
		// Arrays are values inside an object member; rebuild and store back.
		return applyArrayOp(doc, tokens, c, last, p)
	default:
		return patchError(p, fmt.Sprintf("member '%s' not found in %s", last, pyRepr(c)))
	}
}

// applyArrayOp edits an array that is the value at tokens[:len-1].
func applyArrayOp(doc *jsonwire.Object, tokens []string, arr []any, last string, p patchOp) *apiError {
	var idx int
	if last == "-" && p.op == "add" {
		idx = len(arr)
	} else {
		i, err := strconv.Atoi(last)
		limit := len(arr)
		if p.op != "add" {
			limit = len(arr) - 1
		}
		if err != nil || i < 0 || i > limit {
			return patchError(p, fmt.Sprintf("index '%s' is out of bounds", last))
		}
		idx = i
	}
	var out []any
	switch p.op {
	case "add":
		out = make([]any, 0, len(arr)+1)
		out = append(out, arr[:idx]...)
		out = append(out, p.value)
		out = append(out, arr[idx:]...)
	case "replace":
		out = append([]any(nil), arr...)
		out[idx] = p.value
	case "remove":
		out = append(append([]any(nil), arr[:idx]...), arr[idx+1:]...)
	}
	// Store the new array in its container.
	var container any = doc
	for _, t := range tokens[:len(tokens)-2] {
		switch c := container.(type) {
		case *jsonwire.Object:
			container, _ = c.Get(t)
		case []any:
			i, _ := strconv.Atoi(t)
			container = c[i]
		}
	}
	key := tokens[len(tokens)-2]
	switch c := container.(type) {
	case *jsonwire.Object:
		c.Set(key, out)
	case []any:
		i, _ := strconv.Atoi(key)
		c[i] = out
	}
	return nil
}

// restoreMasked keeps stored secrets when a client sends back the
// "******" placeholder it was shown: wherever newV holds the placeholder under
// a secret key, the value from oldV is put back (or the key dropped when
// there was none). Objects in lists are matched with the stored list's by
// position.
func restoreMasked(oldV, newV *jsonwire.Object, instance bool) {
	for _, k := range append([]string(nil), newV.Keys()...) {
		nv := newV.Value(k)
		ov, had := (any)(nil), false
		if oldV != nil {
			ov, had = oldV.Get(k)
		}
		secret := isSecretKey(k) || (instance && (k == "configdrive" || k == "image_url"))
		switch t := nv.(type) {
		case *jsonwire.Object:
			oldSub, _ := ov.(*jsonwire.Object)
			restoreMasked(oldSub, t, false)
			continue
		case []any:
			oldList, _ := ov.([]any)
			restoreMaskedList(oldList, t)
			continue
		}
		if s, ok := nv.(string); ok && s == maskedValue && secret {
			if had {
				newV.Set(k, ov)
			} else {
				newV.Delete(k)
			}
		}
	}
}

// restoreMaskedList is restoreMasked for the objects of a list.
func restoreMaskedList(oldList, newList []any) {
	for i, e := range newList {
		var old any
		if i < len(oldList) {
			old = oldList[i]
		}
		switch t := e.(type) {
		case *jsonwire.Object:
			oldSub, _ := old.(*jsonwire.Object)
			restoreMasked(oldSub, t, false)
		case []any:
			oldSub, _ := old.([]any)
			restoreMaskedList(oldSub, t)
		}
	}
}

// patchRepr is a patch as Ironic's PatchError shows it (Python's repr of
// the operations).
func patchRepr(ops []patchOp) string {
	docs := make([]any, len(ops))
	for i, op := range ops {
		docs[i] = op.doc
	}
	return pyRepr(docs)
}
