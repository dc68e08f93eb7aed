package resolvers_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/99designs/gqlgen/client"

	"connectsession/resolvers"
)

// On _entities, gqlgen's own errors about a representation arrive uncoded, like the
// store's unexpected failures: the first are the caller's input, the second are ours and
// must not be shown as BAD_USER_INPUT, whatever their text says.
func TestEntitiesErrorsByType(t *testing.T) {
	tests := []struct {
		name  string
		store error
		rep   map[string]any
		code  string
		field string
	}{
		{"id that is not an Int", nil, map[string]any{"__typename": "ConnectSession", "id": "x"}, "BAD_USER_INPUT", "representations"},
		{"store failure", errors.New("boom: secret detail"), map[string]any{"__typename": "ConnectSession", "id": 1}, "INTERNAL_SERVER_ERROR", ""},
		{"wrapped store failure", fmt.Errorf("cache: decode record: %w", errors.New("boom")),
			map[string]any{"__typename": "ConnectSession", "id": 1}, "INTERNAL_SERVER_ERROR", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(&resolvers.Resolver{Store: failingStore{err: tt.store}, Auth: resolvers.AllowAll{}})
			resp, err := c.RawPost(entitiesQuery, client.Var("r", []any{tt.rep}))
			if err != nil {
				t.Fatalf("post: %v", err)
			}
			var errs []gqlError
			if err := json.Unmarshal(resp.Errors, &errs); err != nil {
				t.Fatalf("decode errors %s: %v", resp.Errors, err)
			}
			wantError(t, result{Errors: errs}, tt.code, tt.field)
		})
	}
}
