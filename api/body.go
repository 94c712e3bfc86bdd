package api

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/ferric-project/ferric/jsonwire"
)

// Request parsing and validation with Ironic's messages. Ironic validates
// bodies with jsonschema and its ironic.common.args helpers; the messages
// below are theirs so that clients and operators see the same text.

// decodeBody parses the request body as one JSON value. An empty body is
// (nil, false). Malformed JSON is a 400 (Ironic 21.4 answers 500 there)
// whose message is Python's, as Ironic's would be; so is JSON that
// jsonwire.Decode refuses (invalid UTF-8, NUL, unpaired surrogates, numbers
// out of range).
func decodeBody(c *fiber.Ctx) (any, bool, error) {
	body := c.Body()
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil, false, nil
	}
	v, err := jsonwire.Decode(body)
	if err != nil {
		return nil, true, badRequest("Invalid JSON in request body: %s", err)
	}
	return v, true, nil
}

// encodeValue returns a decoded value as compact JSON (jsonwire.Encode).
func encodeValue(v any) json.RawMessage { return jsonwire.Encode(v) }

// decodeObjectBody parses a body that must be a JSON object; name is the
// argument name used in messages ("node", "port", ...).
func decodeObjectBody(c *fiber.Ctx, name string) (*jsonwire.Object, error) {
	v, ok, err := decodeBody(c)
	if err != nil {
		return nil, err
	}
	if !ok || v == nil {
		return nil, badRequest("Missing mandatory parameter: %s", name)
	}
	o, isObj := v.(*jsonwire.Object)
	if !isObj {
		return nil, schemaError(name, fmt.Sprintf("%s is not of type 'object'", pyRepr(v)))
	}
	return o, nil
}

func schemaError(name, msg string) *apiError {
	return badRequest("Schema error for %s: %s", name, msg)
}

// prop is one property of a JSON schema: the JSON types it accepts and an
// optional maximum string length.
type prop struct {
	types  []string
	maxLen int
}

// Length limits. Ironic's database declares most strings String(255) (name,
// driver, owner, lessee, shard, the interfaces; boot_mode String(16),
// resource_class String(80)) and PostgreSQL refuses more there; ferric's
// text columns would take them, but an indexed value beyond ~2.7 KB fails
// the index, and Ironic's clients expect its limits. The free-text reasons
// are Text in Ironic (unbounded in its API): ferric caps them as Ironic caps
// a node's description.
const (
	maxColumn      = 255
	maxDescription = 4096 // Ironic's _NODE_DESCRIPTION_MAX_LENGTH
	maxReason      = maxDescription
)

var (
	tString        = prop{types: []string{"string"}}
	tStringNull    = prop{types: []string{"string", "null"}}
	tObjectNull    = prop{types: []string{"object", "null"}}
	tBoolish       = prop{types: []string{"string", "boolean", "null"}}
	tColumn        = prop{types: []string{"string"}, maxLen: maxColumn}
	tColumnNull    = prop{types: []string{"string", "null"}, maxLen: maxColumn}
	tReasonNull    = prop{types: []string{"string", "null"}, maxLen: maxReason}
	tBootModeNull  = prop{types: []string{"string", "null"}, maxLen: 16}
	tResourceClass = prop{types: []string{"string", "null"}, maxLen: 80}
	tInteger       = prop{types: []string{"integer"}}
)

// schema is a flat object schema with additionalProperties false.
type schema struct {
	props    map[string]prop
	required []string
}

// check validates o the way jsonschema reports the first problem: unknown
// properties, then missing required ones, then property types.
func (sc *schema) check(name string, o *jsonwire.Object) *apiError {
	var extra []string
	for _, k := range o.Keys() {
		if _, ok := sc.props[k]; !ok {
			extra = append(extra, pyStr(k))
		}
	}
	if len(extra) > 0 {
		verb := "was"
		if len(extra) > 1 {
			verb = "were"
		}
		return schemaError(name, fmt.Sprintf("Additional properties are not allowed (%s %s unexpected)",
			strings.Join(extra, ", "), verb))
	}
	for _, r := range sc.required {
		if _, ok := o.Get(r); !ok {
			return schemaError(name, pyStr(r)+" is a required property")
		}
	}
	for _, k := range o.Keys() {
		if msg := sc.props[k].check(o.Value(k)); msg != "" {
			return schemaError(name, msg)
		}
	}
	return nil
}

// check returns jsonschema's message for v, or "".
func (p prop) check(v any) string {
	if len(p.types) > 0 {
		t := pyTypeName(v)
		ok := false
		for _, want := range p.types {
			if want == t || want == "integer" && isIntegral(v) {
				ok = true
				break
			}
		}
		if !ok {
			q := make([]string, len(p.types))
			for i, t := range p.types {
				q[i] = pyStr(t)
			}
			return fmt.Sprintf("%s is not of type %s", pyRepr(v), strings.Join(q, ", "))
		}
	}
	if s, ok := v.(string); ok && p.maxLen > 0 && utf8.RuneCountInString(s) > p.maxLen {
		return pyRepr(v) + " is too long"
	}
	return ""
}

// isIntegral is jsonschema's "integer" (Draft 2020-12, Ironic's): a JSON
// number with an integral value, 1.0 and 1e2 included.
func isIntegral(v any) bool {
	n, ok := v.(json.Number)
	if !ok {
		return false
	}
	f, err := strconv.ParseFloat(string(n), 64)
	return err == nil && f == math.Trunc(f)
}

// Value converters (ironic.common.args).

// argInt32 converts a schema-checked JSON integer to the 32-bit integer
// Ironic's column holds (its database refuses larger ones).
func argInt32(name string, v any) (int32, *apiError) {
	n, _ := v.(json.Number)
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || f != math.Trunc(f) || f < math.MinInt32 || f > math.MaxInt32 {
		return 0, badRequest("Invalid %s: %s is not a 32-bit integer", name, pyDisplay(v))
	}
	return int32(f), nil
}

// argBool converts a JSON boolean or one of oslo's boolean strings.
func argBool(name string, v any) (*bool, *apiError) {
	switch t := v.(type) {
	case nil:
		return nil, nil
	case bool:
		return &t, nil
	case string:
		b, ok := parseBoolString(t)
		if !ok {
			return nil, badRequest("Invalid %s: Unrecognized value '%s', acceptable values are: "+
				"'0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'", name, t)
		}
		return &b, nil
	case json.Number:
		switch string(t) {
		case "1":
			b := true
			return &b, nil
		case "0":
			b := false
			return &b, nil
		}
	}
	return nil, badRequest("Invalid %s: Unrecognized value '%s', acceptable values are: "+
		"'0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'", name, pyDisplay(v))
}

// parseBoolString is oslo's strutils.bool_from_string(strict=True).
func parseBoolString(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "t", "true", "on", "y", "yes":
		return true, true
	case "0", "f", "false", "off", "n", "no":
		return false, true
	}
	return false, false
}

// pyDisplay is Python's str() of a decoded value (strings unquoted, cut
// when long).
func pyDisplay(v any) string {
	if s, ok := v.(string); ok {
		return clipEcho(s)
	}
	return pyRepr(v)
}

// isUUIDLike is oslo's uuidutils.is_uuid_like.
func isUUIDLike(s string) bool {
	u, err := uuid.Parse(s)
	if err != nil {
		return false
	}
	norm := strings.ToLower(s)
	for _, p := range []string{"urn:", "uuid:"} {
		norm = strings.TrimPrefix(norm, p)
	}
	norm = strings.NewReplacer("{", "", "}", "", "-", "").Replace(norm)
	return strings.ReplaceAll(u.String(), "-", "") == norm
}

// argUUID validates an optional UUID string ("Expected UUID for x: y").
func argUUID(name string, v any) (*string, *apiError) {
	switch t := v.(type) {
	case nil:
		return nil, nil
	case string:
		if isUUIDLike(t) {
			return &t, nil
		}
	}
	return nil, badRequest("Expected UUID for %s: %s", name, pyDisplay(v))
}

// logicalNameRE is utils.is_valid_logical_name: RFC 3986 unreserved characters.
var logicalNameRE = regexp.MustCompile(`^[A-Za-z0-9\-._~]+$`)

// hostnameLabelRE is one label of utils.is_hostname_safe (before API 1.10).
var hostnameLabelRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9\-]{0,61}[a-z0-9])?$`)

func isValidLogicalName(s string) bool {
	return len(s) <= 255 && logicalNameRE.MatchString(s)
}

func isHostnameSafe(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	labels := strings.Split(strings.TrimSuffix(s, "."), ".")
	if _, err := strconv.Atoi(labels[len(labels)-1]); err == nil {
		return false // the last label may not be all digits
	}
	for _, l := range labels {
		if !hostnameLabelRE.MatchString(l) {
			return false
		}
	}
	return true
}

// isValidNodeName is api_utils.is_valid_node_name at microversion v.
func isValidNodeName(s string, v int) bool {
	if isUUIDLike(s) {
		return false
	}
	if v < v10UnrestrictedName {
		return isHostnameSafe(s)
	}
	return isValidLogicalName(s)
}

// checkAddress is the check of a port's or port group's address (Ironic's
// MacAddressType): the normalized MAC address, 400 when s is not one.
func checkAddress(s string, _ *input) (string, error) {
	mac, ok := isValidMAC(s)
	if !ok {
		return "", badRequest("Expected valid MAC address for address: %s", s)
	}
	return mac, nil
}

// isValidMAC is oslo's netutils.is_valid_mac; it returns the normalized
// (lower-case) address.
func isValidMAC(s string) (string, bool) {
	l := strings.ToLower(s)
	if len(l) != 17 {
		return "", false
	}
	for i := 0; i < 17; i++ {
		c := l[i]
		if i%3 == 2 {
			if c != ':' {
				return "", false
			}
			continue
		}
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", false
		}
	}
	return l, true
}

// patchPathRE is the path pattern of Ironic's JSON patch schema,
// ^(/[\w-]+)+$ with Python's Unicode \w.
func validPatchPath(p string) bool {
	if len(p) < 2 || p[0] != '/' {
		return false
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if seg == "" {
			return false
		}
		for _, r := range seg {
			if r != '_' && r != '-' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				return false
			}
		}
	}
	return true
}

// unexpectedArgs refuses a query that names a parameter other than
// allowed, each named once in order of appearance, as Ironic's
// "Unexpected arguments" (400).
func unexpectedArgs(c *fiber.Ctx, allowed ...string) error {
	var extra []string
	c.Context().QueryArgs().VisitAll(func(k, _ []byte) {
		if n := string(k); !slices.Contains(allowed, n) && !slices.Contains(extra, n) {
			extra = append(extra, n)
		}
	})
	if len(extra) > 0 {
		return badRequest("Unexpected arguments: %s", strings.Join(extra, ", "))
	}
	return nil
}
