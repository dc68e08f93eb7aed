package resolvers

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"connectsession/graph"
	"connectsession/graph/model"
)

// Limits bound what one operation may ask for. Zero fields take the defaults.
type Limits struct {
	// Complexity is the most an operation may cost (default 10000): every field costs 1,
	// and a list's fields count once per item it can hold (connectSessions: first or last,
	// else 20). _entities is bounded by MaxRepresentations instead.
	Complexity int
	// Depth is the deepest selection allowed (default 10); introspection is not counted.
	Depth int
	// Aliases is how many aliased fields one operation may use (default 30).
	Aliases int
}

// MaxRepresentations is how many entities one _entities call may ask for.
const MaxRepresentations = 1000

// The extensions.code values of the limits.
const (
	CodeComplexityLimit = "COMPLEXITY_LIMIT_EXCEEDED"
	CodeDepthLimit      = "DEPTH_LIMIT_EXCEEDED"
)

func (l *Limits) defaults() {
	if l.Complexity <= 0 {
		l.Complexity = 10000
	}
	if l.Depth <= 0 {
		l.Depth = 10
	}
	if l.Aliases <= 0 {
		l.Aliases = 30
	}
}

// complexity prices the fields whose cost grows with their arguments.
func complexity() graph.ComplexityRoot {
	var c graph.ComplexityRoot
	c.Query.ConnectSessions = func(child int, _ int, _ string, _ *model.ConnectSessionFilter, _ *model.ConnectSessionOrder, first *int, _ *string, last *int, _ *string) int {
		n := model.DefaultPageSize
		switch {
		case first != nil && *first >= 0:
			n = *first
		case last != nil && *last >= 0:
			n = *last
		}
		return 1 + max(n, 1)*child
	}
	return c
}

// shapeLimit refuses operations deeper than Depth or with more than Aliases aliases (and,
// when introspection is off, those that introspect), before anything runs.
type shapeLimit struct {
	Limits
	// noIntrospection refuses __schema and __type: turning gqlgen's introspection off
	// would also break federation's _service, which is built from it.
	noIntrospection bool
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = shapeLimit{}

func (shapeLimit) ExtensionName() string                   { return "ShapeLimit" }
func (shapeLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (s shapeLimit) MutateOperationContext(_ context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	if opCtx.Operation == nil {
		return nil
	}
	w := shapeWalker{doc: opCtx.Doc}
	depth := w.depth(opCtx.Operation.SelectionSet, map[string]bool{})
	if depth > s.Depth {
		err := gqlerror.Errorf("operation is %d levels deep, which exceeds the limit of %d", depth, s.Depth)
		errcode.Set(err, CodeDepthLimit)
		return err
	}
	if w.introspects && s.noIntrospection {
		err := gqlerror.Errorf("introspection is turned off on this service")
		errcode.Set(err, errcode.ValidationFailed)
		return err
	}
	if w.aliases > s.Aliases {
		err := gqlerror.Errorf("operation uses %d aliases, which exceeds the limit of %d", w.aliases, s.Aliases)
		errcode.Set(err, CodeComplexityLimit)
		return err
	}
	return nil
}

type shapeWalker struct {
	doc         *ast.QueryDocument
	aliases     int
	introspects bool
}

// depth returns the depth of a selection set, following fragments (validation has
// already refused cycles; seen guards anyway) and counting aliases on the way.
func (w *shapeWalker) depth(set ast.SelectionSet, seen map[string]bool) int {
	deepest := 0
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			if s.Alias != "" && s.Alias != s.Name {
				w.aliases++
			}
			if s.Name == "__schema" || s.Name == "__type" {
				w.introspects = true
				continue // introspection: GraphiQL's own query is deep by nature
			}
			d = 1 + w.depth(s.SelectionSet, seen)
		case *ast.InlineFragment:
			d = w.depth(s.SelectionSet, seen)
		case *ast.FragmentSpread:
			if seen[s.Name] {
				continue
			}
			if f := w.doc.Fragments.ForName(s.Name); f != nil {
				seen[s.Name] = true
				d = w.depth(f.SelectionSet, seen)
				delete(seen, s.Name)
			}
		}
		deepest = max(deepest, d)
	}
	return deepest
}
