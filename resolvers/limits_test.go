package resolvers_test

import (
	"testing"

	"connectsession/httpapi"
	"connectsession/resolvers"
)

// The limits remember what they learn of an operation, but never its variables: the same
// document is refused or run according to the variables of each request.
func TestOperationLimitsFollowVariables(t *testing.T) {
	eachBackend(t, func(t *testing.T, b *backend) {
		c := newClientWith(&resolvers.Resolver{Store: b.store, Auth: resolvers.AllowAll{}}, httpapi.HandlerOptions{Limits: httpapi.Limits{Complexity: 500}})
		page := `query($n: Int) { connectSessions(organizationId: 1, projectId: "demo", first: $n) { edges { node { id provider label status } } } }`
		viaFragment := `query($n: Int) { ...P } fragment P on Query { connectSessions(organizationId: 1, projectId: "demo", first: $n) { edges { node { id provider label status } } } }`
		static := `{ connectSessions(organizationId: 1, projectId: "demo", first: 100) { edges { node { id provider label status } } } }`
		for range 2 {
			for _, q := range []string{page, viaFragment} {
				if res := do(t, c, q, map[string]any{"n": 10}); len(res.Errors) > 0 {
					t.Fatalf("first: 10 refused: %+v", res.Errors)
				}
				wantError(t, do(t, c, q, map[string]any{"n": 100}), "COMPLEXITY_LIMIT_EXCEEDED", "")
				if res := do(t, c, q, map[string]any{"n": 10}); len(res.Errors) > 0 {
					t.Fatalf("first: 10 after first: 100 refused: %+v", res.Errors)
				}
			}
			wantError(t, do(t, c, static, nil), "COMPLEXITY_LIMIT_EXCEEDED", "")
		}
	})
}
