package httpapi

import (
	"context"
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"

	"connectsession/graph"
	"connectsession/resolvers"
)

// A parsed and validated document takes at most parsedSize of its text (what parsing and
// validation allocate is an upper bound of what stays), so the cache's byte budget
// bounds its memory.
func TestDocumentCacheEstimate(t *testing.T) {
	schema := graph.NewExecutableSchema(graph.Config{Resolvers: &resolvers.Resolver{}}).Schema()
	introspection, err := os.ReadFile("testdata/graphiql-introspection.graphql")
	if err != nil {
		t.Fatal(err)
	}
	var aliases strings.Builder
	for i := range 30 {
		fmt.Fprintf(&aliases, " a%d: connectSession(organizationId: 1, projectId: \"p\", id: %d) { id status metadata }", i, i)
	}
	for name, q := range map[string]string{
		"introspection": string(introspection),
		"aliases":       "{" + aliases.String() + " }",
		"small":         `{ connectSession(organizationId: 1, projectId: "demo", id: 1) { id } }`,
		"fragments":     `{ connectSessions(organizationId: 1, projectId: "p") { nodes { ...A } edges { node { ...A } } } } fragment A on ConnectSession { id status label }`,
	} {
		// The least of a few runs: anything else allocating meanwhile only adds.
		got := int64(math.MaxInt64)
		for range 3 {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			doc, err := parser.ParseQuery(&ast.Source{Input: q})
			if err != nil {
				t.Fatal(err)
			}
			if errs := validator.ValidateWithRules(schema, doc, nil); len(errs) > 0 {
				t.Fatalf("%s: %v", name, errs)
			}
			runtime.ReadMemStats(&after)
			got = min(got, int64(after.TotalAlloc-before.TotalAlloc))
		}
		t.Logf("%s: %d bytes of text, %d bytes allocated", name, len(q), got)
		if got > parsedSize(q) {
			t.Errorf("%s: %d bytes allocated, more than the estimate of %d", name, got, parsedSize(q))
		}
	}
}

func TestDocumentCacheBoundedByBytes(t *testing.T) {
	c := newDocumentCache(1000, 1<<20)
	ctx := context.Background()
	for i := range 200 {
		q := fmt.Sprintf("{ __typename } # %d %s", i, strings.Repeat("x", 1000))
		c.Add(ctx, q, &ast.QueryDocument{})
	}
	if got := c.lru.Size(); got > 1<<20 {
		t.Errorf("cache holds an estimated %d bytes, over its budget of %d", got, 1<<20)
	}
	if got := c.lru.Len(); got >= 200 || got == 0 {
		t.Errorf("cache holds %d of 200 documents of 1 KB under a 1 MiB budget", got)
	}
}
