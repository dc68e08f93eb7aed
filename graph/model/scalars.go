package model

import (
	"encoding/json"
	"fmt"
	"io"
)

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
