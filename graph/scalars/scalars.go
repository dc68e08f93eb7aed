// Package scalars holds how gqlgen reads and writes the schema's scalars whose Go type
// is not the domain's own: DateTime (time.Time) and Int (int, refused outside 32 bits).
// It is the only place besides graph/ and the HTTP layer where gqlgen's types appear, so
// that graph/model, the domain, does not import gqlgen. gqlgen.yml binds the scalars here.
package scalars

import (
	"io"
	"math"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"connectsession/graph/model"
)

// DateTimeLayout is how instants are written: RFC 3339 in UTC with milliseconds.
const DateTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// MarshalDateTime writes t as RFC 3339 in UTC with millisecond precision.
func MarshalDateTime(t time.Time) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.Quote(t.UTC().Format(DateTimeLayout)))
	})
}

// UnmarshalDateTime reads an RFC 3339 string; it returns a *model.InputError for
// anything else.
func UnmarshalDateTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, &model.InputError{Message: "must be an RFC 3339 date-time string"}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, &model.InputError{Message: "must be an RFC 3339 date-time such as 2026-01-02T15:04:05Z"}
	}
	return t, nil
}

// MarshalInt writes a GraphQL Int.
func MarshalInt(i int) graphql.Marshaler { return graphql.MarshalInt(i) }

// UnmarshalInt reads a GraphQL Int and refuses values outside the signed 32-bit range
// the GraphQL specification gives Int, so that no id or count beyond it is stored or
// echoed; such a value is a *model.InputError.
func UnmarshalInt(v any) (int, error) {
	i, err := graphql.UnmarshalInt64(v)
	if err != nil {
		return 0, &model.InputError{Message: "must be an integer"}
	}
	if i < math.MinInt32 || i > math.MaxInt32 {
		return 0, &model.InputError{Message: "must fit in a signed 32-bit integer (GraphQL Int)"}
	}
	return int(i), nil
}
