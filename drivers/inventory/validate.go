package inventory

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// MaxDocumentSize is the largest document Validate accepts, in bytes of
// JSON. A real inventory is a few tens of KB; IPA's optional logs
// collector adds a few hundred.
const MaxDocumentSize = 4 << 20

// maxDepth bounds the nesting of arrays and objects in a document.
const maxDepth = 64

// ErrInvalid is wrapped by every *FieldError: errors.Is(err, ErrInvalid)
// tells a rejected document from other failures.
var ErrInvalid = errors.New("inventory: invalid document")

// FieldError names the first member of a document that the schema
// rejects.
type FieldError struct {
	// Path is the member: "inventory.cpu.count",
	// "inventory.interfaces[0].mac_address"; "" is the document itself.
	Path string
	// Message says what is wrong with it: "is required", "is string, want
	// integer", "contains a NUL character", ...
	Message string
}

func (e *FieldError) Error() string {
	if e.Path == "" {
		return "inventory document " + e.Message
	}
	return e.Path + " " + e.Message
}

// Unwrap returns ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// Validate checks a submitted document (JSON) against the schema (Schema)
// and returns a *FieldError naming the first bad member: malformed JSON,
// a duplicate member name, a wrong JSON type, a missing required member,
// a NUL character in any string, or a size, count or length beyond the
// schema's bounds. In-band (agent) and out-of-band (driver) documents are
// held to the same schema: only inventory is required, and each fact
// that is present has its required members (interfaces: at least one,
// each with a name and a mac_address; cpu: count and architecture;
// memory: total; disks: each with a name and a size). Members the schema
// does not list are allowed. A valid document decodes into Document.
func Validate(raw []byte) error {
	if len(raw) > MaxDocumentSize {
		return &FieldError{Message: fmt.Sprintf("is %d bytes, more than %d", len(raw), MaxDocumentSize)}
	}
	if !utf8.Valid(raw) {
		return &FieldError{Message: "is not valid UTF-8"}
	}
	v, ferr := parse(raw)
	if ferr != nil {
		return ferr
	}
	s, err := compileSchema(schemaJSON)
	if err != nil {
		return fmt.Errorf("inventory: %w", err) // a bad embedded schema; tests catch it
	}
	if ferr := s.validate(v, ""); ferr != nil {
		return ferr
	}
	return nil
}

// value is a parsed JSON value that keeps the order of object members (so
// that "the first bad member" is the first in the document) and number
// literals as written.
type value struct {
	kind kind
	b    bool
	str  string // a string, or a number's literal
	arr  []*value
	obj  []member
}

type member struct {
	key string
	val *value
}

type kind int

const (
	kindNull kind = iota
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

// is reports whether v is of the JSON Schema type t. An integer is a
// number literal without fraction or exponent.
func (v *value) is(t string) bool {
	switch t {
	case "null":
		return v.kind == kindNull
	case "boolean":
		return v.kind == kindBool
	case "number":
		return v.kind == kindNumber
	case "integer":
		return v.kind == kindNumber && !strings.ContainsAny(v.str, ".eE")
	case "string":
		return v.kind == kindString
	case "array":
		return v.kind == kindArray
	case "object":
		return v.kind == kindObject
	}
	return false
}

// describe names v's type for a message, with the value when it is short.
func (v *value) describe() string {
	switch v.kind {
	case kindNull:
		return "null"
	case kindBool:
		return fmt.Sprintf("boolean %t", v.b)
	case kindNumber:
		if v.is("integer") {
			return "integer " + v.str
		}
		return "number " + v.str
	case kindString:
		return "string " + abbreviate(v.str)
	case kindArray:
		return "array"
	}
	return "object"
}

// equals compares v with a value decoded by encoding/json with UseNumber
// (an enum member).
func (v *value) equals(e any) bool {
	switch e := e.(type) {
	case nil:
		return v.kind == kindNull
	case bool:
		return v.kind == kindBool && v.b == e
	case string:
		return v.kind == kindString && v.str == e
	case json.Number:
		return v.kind == kindNumber && v.str == e.String()
	}
	return false // arrays and objects are not used in enums here
}

// parse reads one JSON value; anything after it is an error.
func parse(raw []byte) (*value, *FieldError) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	p := parser{dec: dec}
	v, err := p.value("", 0)
	if err != nil {
		return nil, err
	}
	if _, terr := dec.Token(); terr != io.EOF {
		return nil, &FieldError{Message: "has data after its end"}
	}
	return v, nil
}

type parser struct{ dec *json.Decoder }

func (p *parser) value(path string, depth int) (*value, *FieldError) {
	tok, err := p.dec.Token()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, &FieldError{Path: path, Message: "is not JSON: " + err.Error()}
	}
	switch t := tok.(type) {
	case nil:
		return &value{kind: kindNull}, nil
	case bool:
		return &value{kind: kindBool, b: t}, nil
	case json.Number:
		return &value{kind: kindNumber, str: t.String()}, nil
	case string:
		return &value{kind: kindString, str: t}, nil
	case json.Delim:
		if depth >= maxDepth {
			return nil, &FieldError{Path: path, Message: fmt.Sprintf("nests deeper than %d levels", maxDepth)}
		}
		if t == '[' {
			v := &value{kind: kindArray}
			for p.dec.More() {
				e, err := p.value(fmt.Sprintf("%s[%d]", path, len(v.arr)), depth+1)
				if err != nil {
					return nil, err
				}
				v.arr = append(v.arr, e)
			}
			if _, err := p.dec.Token(); err != nil { // ]
				return nil, &FieldError{Path: path, Message: "is not JSON: " + err.Error()}
			}
			return v, nil
		}
		v := &value{kind: kindObject}
		seen := map[string]bool{}
		for p.dec.More() {
			kt, err := p.dec.Token()
			if err != nil {
				return nil, &FieldError{Path: path, Message: "is not JSON: " + err.Error()}
			}
			key, _ := kt.(string)
			if seen[key] {
				return nil, &FieldError{Path: join(path, key), Message: "appears twice"}
			}
			seen[key] = true
			e, ferr := p.value(join(path, key), depth+1)
			if ferr != nil {
				return nil, ferr
			}
			v.obj = append(v.obj, member{key: key, val: e})
		}
		if _, err := p.dec.Token(); err != nil { // }
			return nil, &FieldError{Path: path, Message: "is not JSON: " + err.Error()}
		}
		return v, nil
	}
	return nil, &FieldError{Path: path, Message: fmt.Sprintf("is not JSON: unexpected %v", tok)}
}
