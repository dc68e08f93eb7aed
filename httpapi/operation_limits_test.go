package httpapi_test

import (
	"testing"

	"github.com/99designs/gqlgen/client"

	"connectsession/cache"
	"connectsession/httpapi"
	"connectsession/internal/redistest"
	"connectsession/resolvers"
)

// The limits remember what they learn of an operation, but never its variables: the same
// document is refused or run according to the variables of each request.
func TestOperationLimitsFollowVariables(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		store := cache.New(b.RDB, cache.Options{Prefix: b.Prefix})
		h, err := httpapi.NewHandler(&resolvers.Resolver{Store: store, Auth: resolvers.AllowAll{}}, httpapi.HandlerOptions{Limits: httpapi.Limits{Complexity: 500}})
		if err != nil {
			t.Fatal(err)
		}
		c := client.New(h)
		do := func(q string, vars map[string]any) redistest.Result { t.Helper(); return redistest.Do(t, c, q, vars) }
		refused := func(res redistest.Result) {
			t.Helper()
			if len(res.Errors) != 1 || res.Errors[0].Code() != httpapi.CodeComplexityLimit {
				t.Fatalf("got errors %+v, want one %s", res.Errors, httpapi.CodeComplexityLimit)
			}
		}
		page := `query($n: Int) { connectSessions(organizationId: 1, projectId: "demo", first: $n) { edges { node { id provider label status } } } }`
		viaFragment := `query($n: Int) { ...P } fragment P on Query { connectSessions(organizationId: 1, projectId: "demo", first: $n) { edges { node { id provider label status } } } }`
		static := `{ connectSessions(organizationId: 1, projectId: "demo", first: 100) { edges { node { id provider label status } } } }`
		for range 2 {
			for _, q := range []string{page, viaFragment} {
				if res := do(q, map[string]any{"n": 10}); len(res.Errors) > 0 {
					t.Fatalf("first: 10 refused: %+v", res.Errors)
				}
				refused(do(q, map[string]any{"n": 100}))
				if res := do(q, map[string]any{"n": 10}); len(res.Errors) > 0 {
					t.Fatalf("first: 10 after first: 100 refused: %+v", res.Errors)
				}
			}
			refused(do(static, nil))
		}
	})
}
