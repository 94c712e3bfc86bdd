package api

import "github.com/ferric-project/ferric/jsonwire"

// Ironic's link pairs: [{"href": <base>/v1/<path>, "rel": "self"},
// {"href": <base>/<path>, "rel": "bookmark"}].

// appendLinks appends the link pair for <base>/v1/<path> and <base>/<path>.
func appendLinks(b []byte, base, path string) []byte {
	return appendLinksParts(b, escapeURL(base), path, "", "")
}

// appendLinksParts is appendLinks for <prefix><id><suffix> with an already
// JSON-escaped base, without building the path string.
func appendLinksParts(b []byte, escBase, prefix, id, suffix string) []byte {
	b = append(b, `[{"href":"`...)
	b = append(b, escBase...)
	b = append(b, "/v1/"...)
	b = appendPath(b, prefix, id, suffix)
	b = append(b, `","rel":"self"},{"href":"`...)
	b = append(b, escBase...)
	b = append(b, '/')
	b = appendPath(b, prefix, id, suffix)
	return append(b, `","rel":"bookmark"}]`...)
}

func appendPath(b []byte, prefix, id, suffix string) []byte {
	b = jsonwire.AppendEscaped(b, prefix)
	b = jsonwire.AppendEscaped(b, id)
	return jsonwire.AppendEscaped(b, suffix)
}

// escapeURL returns s escaped for the inside of a JSON string.
func escapeURL(s string) string { return string(jsonwire.AppendEscaped(nil, s)) }
