package main

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"connectsession/graph"
)

// Editors and GraphQL Code Generator read schema.graphqls with federation-directives.graphqls
// (graphql.config.yml, e2e/codegen.ts): together they must form a valid schema, and each
// directive the file declares must be the one gqlgen builds the service with.
func TestFederationDirectivesMatchGqlgen(t *testing.T) {
	var sources []*ast.Source
	for _, name := range []string{"schema.graphqls", "federation-directives.graphqls"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, &ast.Source{Name: name, Input: string(b)})
	}
	if _, err := gqlparser.LoadSchema(sources[0]); err == nil {
		t.Fatal("schema.graphqls alone loads: federation-directives.graphqls is no longer needed")
	}
	if _, err := gqlparser.LoadSchema(sources...); err != nil {
		t.Fatalf("schema.graphqls with federation-directives.graphqls: %v", err)
	}

	doc, err := gqlparser.LoadSchema(sources[1])
	if err != nil {
		t.Fatal(err)
	}
	served := graph.NewExecutableSchema(graph.Config{}).Schema()
	declared := 0
	for name, d := range doc.Directives {
		if d.Position == nil || d.Position.Src != sources[1] {
			continue // gqlparser's built-ins
		}
		declared++
		want, ok := served.Directives[name]
		if !ok {
			t.Errorf("@%s: the service has no such directive", name)
			continue
		}
		if got, want := directiveText(d), directiveText(want); got != want {
			t.Errorf("@%s: declared as %s, the service has %s", name, got, want)
		}
	}
	if declared == 0 {
		t.Fatal("federation-directives.graphqls declares no directive")
	}
}

// directiveText writes a directive definition's arguments, repeatability and locations.
func directiveText(d *ast.DirectiveDefinition) string {
	s := "@" + d.Name + "("
	for i, a := range d.Arguments {
		if i > 0 {
			s += ", "
		}
		s += a.Name + ": " + a.Type.String()
		if a.DefaultValue != nil {
			s += " = " + a.DefaultValue.String()
		}
	}
	s += ")"
	if d.IsRepeatable {
		s += " repeatable"
	}
	locs := make([]string, len(d.Locations))
	for i, l := range d.Locations {
		locs[i] = string(l)
	}
	slices.Sort(locs)
	return s + " on " + strings.Join(locs, " | ")
}
