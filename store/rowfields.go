package store

// Field is one field of a stored row type T: its name (Ironic's) and a
// pointer to it in a row value, typed as the field is (*string, **string
// for a field that may be null, *bool, **bool, *[]string, *[]byte for a
// JSON document, *int64, *time.Time, **time.Time). Other packages go over
// a row's fields with it instead of listing them again: the row's column
// table is the one list.
type Field[T any] struct {
	Name string
	Ptr  func(*T) any
}

// fieldsOf are the fields of a column table.
func fieldsOf[T any](cols []column[T]) []Field[T] {
	out := make([]Field[T], 0, len(cols))
	for _, c := range cols {
		out = append(out, Field[T]{Name: c.name, Ptr: c.dst})
	}
	return out
}

// NodeFields are a node's fields, as its table has them.
func NodeFields() []Field[Node] { return fieldsOf(nodeColumns()) }

// PortFields are a port's fields, as its table has them.
func PortFields() []Field[Port] { return fieldsOf(portColumns()) }
