package jsonwire

import (
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"
)

// Refusals: documents that are well-formed JSON by the letter of RFC 8259
// but that ferric does not accept. A *SyntaxError wraps one of these
// (errors.Is); plain syntax errors wrap none.
var (
	ErrInvalidUTF8   = errors.New("jsonwire: invalid UTF-8")
	ErrNUL           = errors.New("jsonwire: NUL character")
	ErrLoneSurrogate = errors.New("jsonwire: unpaired surrogate")
	ErrNumberRange   = errors.New("jsonwire: number out of range")
	ErrTooDeep       = errors.New("jsonwire: nesting too deep")
	ErrTrailingData  = errors.New("jsonwire: data after the value")
)

// MaxDepth is the deepest nesting of arrays and objects Decode accepts
// (encoding/json's limit).
const MaxDepth = 10000

// MaxScale is the most decimal places a number may have: PostgreSQL's
// numeric (and so jsonb) holds no more.
const MaxScale = 16383

// SyntaxError describes why Decode refused a document. Error() reads as
// Python's json module words it: "Expecting value: line 1 column 11 (char
// 10)"; Line, Column and Char count characters (code points) as Python
// does, Offset counts bytes.
type SyntaxError struct {
	Msg    string // e.g. "Expecting value", "Invalid UTF-8"
	Offset int    // byte offset of the problem
	Line   int    // 1-based
	Column int    // 1-based, in characters
	Char   int    // 0-based character index
	err    error
}

func (e *SyntaxError) Error() string {
	return e.Msg + ": line " + strconv.Itoa(e.Line) + " column " + strconv.Itoa(e.Column) +
		" (char " + strconv.Itoa(e.Char) + ")"
}

// Unwrap returns the sentinel (ErrNUL, ErrTrailingData, ...) behind e, nil
// for a plain syntax error.
func (e *SyntaxError) Unwrap() error { return e.err }

// Decode parses data as exactly one JSON value (surrounding whitespace
// allowed) into nil, bool, json.Number, string, []any and *Object values,
// refusing what the package documentation lists. Errors are *SyntaxError.
func Decode(data []byte) (any, error) { return decode(data, true) }

// DecodeStored is Decode for documents ferric itself stored (jsonb column
// values): it does not check the range of numbers, so that a value written
// before the checks existed still reads back.
func DecodeStored(data []byte) (any, error) { return decode(data, false) }

func decode(data []byte, checkNumbers bool) (any, error) {
	d := decoder{data: data, checkNumbers: checkNumbers}
	d.skipSpace()
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.pos < len(d.data) {
		return nil, d.fail(ErrTrailingData, "Extra data", d.pos)
	}
	return v, nil
}

type decoder struct {
	data         []byte
	pos          int
	depth        int
	checkNumbers bool
	buf          []byte // scratch for strings with escapes
}

// fail builds the error for a problem at byte offset off.
func (d *decoder) fail(err error, msg string, off int) *SyntaxError {
	off = min(off, len(d.data))
	line, lineStart := 1, 0
	for i := 0; i < off; i++ {
		if d.data[i] == '\n' {
			line++
			lineStart = i + 1
		}
	}
	char := utf8.RuneCount(d.data[:off])
	return &SyntaxError{Msg: msg, Offset: off, Line: line, Column: utf8.RuneCount(d.data[lineStart:off]) + 1,
		Char: char, err: err}
}

func (d *decoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *decoder) expectingValue() error { return d.fail(nil, "Expecting value", d.pos) }

// value parses the value at d.pos (whitespace already skipped).
func (d *decoder) value() (any, error) {
	if d.pos >= len(d.data) {
		return nil, d.expectingValue()
	}
	switch c := d.data[d.pos]; c {
	case '{':
		return d.object()
	case '[':
		return d.array()
	case '"':
		s, err := d.str()
		if err != nil {
			return nil, err
		}
		return s, nil
	case 't':
		return d.literal("true", true)
	case 'f':
		return d.literal("false", false)
	case 'n':
		return d.literal("null", nil)
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return d.number()
		}
		return nil, d.expectingValue()
	}
}

func (d *decoder) literal(word string, v any) (any, error) {
	if len(d.data)-d.pos < len(word) || string(d.data[d.pos:d.pos+len(word)]) != word {
		return nil, d.expectingValue()
	}
	d.pos += len(word)
	return v, nil
}

func (d *decoder) enter() error {
	d.depth++
	if d.depth > MaxDepth {
		return d.fail(ErrTooDeep, "Nesting exceeded max depth ("+strconv.Itoa(MaxDepth)+")", d.pos)
	}
	return nil
}

func (d *decoder) object() (any, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	d.pos++ // {
	o := &Object{}
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		d.depth--
		return o, nil
	}
	for {
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return nil, d.fail(nil, "Expecting property name enclosed in double quotes", d.pos)
		}
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return nil, d.fail(nil, "Expecting ':' delimiter", d.pos)
		}
		d.pos++
		d.skipSpace()
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		o.Set(k, v)
		d.skipSpace()
		if d.pos < len(d.data) && d.data[d.pos] == '}' {
			d.pos++
			d.depth--
			return o, nil
		}
		if d.pos >= len(d.data) || d.data[d.pos] != ',' {
			return nil, d.fail(nil, "Expecting ',' delimiter", d.pos)
		}
		d.pos++
		d.skipSpace()
	}
}

func (d *decoder) array() (any, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	d.pos++ // [
	a := []any{}
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		d.depth--
		return a, nil
	}
	for {
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		d.skipSpace()
		if d.pos < len(d.data) && d.data[d.pos] == ']' {
			d.pos++
			d.depth--
			return a, nil
		}
		if d.pos >= len(d.data) || d.data[d.pos] != ',' {
			return nil, d.fail(nil, "Expecting ',' delimiter", d.pos)
		}
		d.pos++
		d.skipSpace()
	}
}

// number parses the longest prefix that is a JSON number, as Python's json
// does (so "1." stops before the dot and "01" after the 0).
func (d *decoder) number() (any, error) {
	start, i := d.pos, d.pos
	data := d.data
	if data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && data[i] >= '1' && data[i] <= '9':
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
	default:
		return nil, d.expectingValue()
	}
	fracStart, fracEnd := i, i
	if i+1 < len(data) && data[i] == '.' && data[i+1] >= '0' && data[i+1] <= '9' {
		i++
		fracStart = i
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
		fracEnd = i
	}
	expStart := -1
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		j := i + 1
		if j < len(data) && (data[j] == '+' || data[j] == '-') {
			j++
		}
		if j < len(data) && data[j] >= '0' && data[j] <= '9' {
			expStart = i + 1
			for j < len(data) && data[j] >= '0' && data[j] <= '9' {
				j++
			}
			i = j
		}
	}
	d.pos = i
	text := string(data[start:i])
	if d.checkNumbers && !numberInRange(text, fracEnd-fracStart, data[max(expStart, 0):i], expStart >= 0) {
		return nil, d.fail(ErrNumberRange, "Number out of range (the limits are those of a double and "+
			strconv.Itoa(MaxScale)+" decimal places)", start)
	}
	return json.Number(text), nil
}

// numberInRange reports whether a number is a finite double-precision value
// with at most MaxScale decimal places (fractional digits minus exponent).
func numberInRange(text string, fracDigits int, exp []byte, hasExp bool) bool {
	if _, err := strconv.ParseFloat(text, 64); err != nil {
		return false // ±Inf: beyond a double
	}
	scale := int64(fracDigits)
	if hasExp {
		neg := false
		if exp[0] == '+' || exp[0] == '-' {
			neg = exp[0] == '-'
			exp = exp[1:]
		}
		var e int64
		for _, c := range exp {
			e = min(e*10+int64(c-'0'), 1<<40) // saturate: only the sign of a huge exponent matters
		}
		if neg {
			scale += e
		} else {
			scale -= e
		}
	}
	return scale <= MaxScale
}

// str parses the string at d.pos (on its opening quote).
func (d *decoder) str() (string, error) {
	quote := d.pos
	data := d.data
	i := quote + 1
	// Fast path: no escapes.
	for i < len(data) {
		c := data[i]
		if c == '"' {
			d.pos = i + 1
			return string(data[quote+1 : i]), nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", d.fail(nil, "Invalid control character at", i)
		}
		if c < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			return "", d.fail(ErrInvalidUTF8, "Invalid UTF-8", i)
		}
		i += size
	}
	if i >= len(data) {
		return "", d.fail(nil, "Unterminated string starting at", quote)
	}
	b := append(d.buf[:0], data[quote+1:i]...)
	for {
		if i >= len(data) {
			return "", d.fail(nil, "Unterminated string starting at", quote)
		}
		c := data[i]
		switch {
		case c == '"':
			d.pos = i + 1
			d.buf = b
			return string(b), nil
		case c == '\\':
			if i+1 >= len(data) {
				return "", d.fail(nil, "Unterminated string starting at", quote)
			}
			e := data[i+1]
			if e == 'u' {
				r, n, err := d.uEscape(i)
				if err != nil {
					return "", err
				}
				b = utf8.AppendRune(b, r)
				i += n
				continue
			}
			switch e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			default:
				return "", d.fail(nil, "Invalid \\escape", i)
			}
			i += 2
		case c < 0x20:
			return "", d.fail(nil, "Invalid control character at", i)
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				return "", d.fail(ErrInvalidUTF8, "Invalid UTF-8", i)
			}
			b = append(b, data[i:i+size]...)
			i += size
		}
	}
}

// hex4 decodes the four hex digits at data[i:], or -1.
func hex4(data []byte, i int) rune {
	if i+4 > len(data) {
		return -1
	}
	var r rune
	for _, c := range data[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return -1
		}
	}
	return r
}

// uEscape decodes the \uXXXX escape (and its low surrogate) at data[i],
// returning the rune and the bytes consumed.
func (d *decoder) uEscape(i int) (rune, int, error) {
	data := d.data
	// Python requires a character after the four digits (the string
	// must go on), and reports the position of the 'u'.
	r := hex4(data, i+2)
	if r < 0 || i+6 >= len(data) {
		return 0, 0, d.fail(nil, "Invalid \\uXXXX escape", i+1)
	}
	switch {
	case r == 0:
		return 0, 0, d.fail(ErrNUL, "NUL (\\u0000) is not allowed in strings", i)
	case r >= 0xDC00 && r <= 0xDFFF:
		return 0, 0, d.fail(ErrLoneSurrogate, "Unpaired surrogate \\u"+string(data[i+2:i+6]), i)
	case r >= 0xD800 && r <= 0xDBFF:
		if i+7 < len(data) && data[i+6] == '\\' && data[i+7] == 'u' {
			lo := hex4(data, i+8)
			if lo < 0 || i+12 >= len(data) {
				return 0, 0, d.fail(nil, "Invalid \\uXXXX escape", i+7)
			}
			if lo >= 0xDC00 && lo <= 0xDFFF {
				return 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00), 12, nil
			}
		}
		return 0, 0, d.fail(ErrLoneSurrogate, "Unpaired surrogate \\u"+string(data[i+2:i+6]), i)
	}
	return r, 6, nil
}
