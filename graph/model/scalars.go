package model

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
)

// DateTimeLayout is how instants are written: RFC 3339 in UTC with milliseconds.
const DateTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// MarshalDateTime writes t as RFC 3339 in UTC with millisecond precision.
func MarshalDateTime(t time.Time) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.Quote(t.UTC().Format(DateTimeLayout)))
	})
}

// UnmarshalDateTime reads an RFC 3339 string; it returns an *InputError for anything else.
func UnmarshalDateTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, &InputError{Message: "must be an RFC 3339 date-time string"}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, &InputError{Message: "must be an RFC 3339 date-time such as 2026-01-02T15:04:05Z"}
	}
	return t, nil
}

// MaxMetadataBytes is the largest serialized metadata object accepted.
const MaxMetadataBytes = 8 << 10

// JSON is a JSON object held as its serialized bytes; nil means no value.
type JSON []byte

// MarshalGQL writes the object as it is stored.
func (j JSON) MarshalGQL(w io.Writer) {
	if j == nil {
		_, _ = io.WriteString(w, "null")
		return
	}
	_, _ = w.Write(j)
}

// UnmarshalGQL accepts a JSON object (from variables or an inline literal) and keeps its
// compact serialization. Anything but an object is an *InputError.
func (j *JSON) UnmarshalGQL(v any) error {
	obj, ok := v.(map[string]any)
	if !ok {
		return &InputError{Message: "must be a JSON object"}
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return &InputError{Message: fmt.Sprintf("is not representable as JSON: %v", err)}
	}
	*j = JSON(b)
	return nil
}

// MarshalInt writes a GraphQL Int.
func MarshalInt(i int) graphql.Marshaler { return graphql.MarshalInt(i) }

// UnmarshalInt reads a GraphQL Int and refuses values outside the signed 32-bit range
// the GraphQL specification gives Int, so that no id or count beyond it is stored or
// echoed; such a value is an *InputError.
func UnmarshalInt(v any) (int, error) {
	i, err := graphql.UnmarshalInt64(v)
	if err != nil {
		return 0, &InputError{Message: "must be an integer"}
	}
	if i < math.MinInt32 || i > math.MaxInt32 {
		return 0, &InputError{Message: "must fit in a signed 32-bit integer (GraphQL Int)"}
	}
	return int(i), nil
}
