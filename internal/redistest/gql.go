package redistest

import (
	"encoding/json"
	"testing"

	"github.com/99designs/gqlgen/client"
)

// GQLError is one entry of a GraphQL response's errors, as the service writes it: the
// extensions carry the machine-readable code and, for input errors, the field.
type GQLError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Code is extensions.code, or "" when absent.
func (e GQLError) Code() string { s, _ := e.Extensions["code"].(string); return s }

// Field is extensions.field, or "" when absent.
func (e GQLError) Field() string { s, _ := e.Extensions["field"].(string); return s }

// Result is a decoded GraphQL response.
type Result struct {
	Data   json.RawMessage
	Errors []GQLError
}

// Do posts query with vars through c and decodes the response; it fails the test on an
// HTTP error status or an undecodable body.
func Do(tb testing.TB, c *client.Client, query string, vars map[string]any) Result {
	tb.Helper()
	var opts []client.Option
	for k, v := range vars {
		opts = append(opts, client.Var(k, v))
	}
	resp, err := c.RawPost(query, opts...)
	if err != nil {
		tb.Fatalf("post: %v", err)
	}
	var res Result
	if res.Data, err = json.Marshal(resp.Data); err != nil {
		tb.Fatalf("encode data: %v", err)
	}
	if len(resp.Errors) > 0 {
		if err := json.Unmarshal(resp.Errors, &res.Errors); err != nil {
			tb.Fatalf("decode errors %s: %v", resp.Errors, err)
		}
	}
	return res
}
