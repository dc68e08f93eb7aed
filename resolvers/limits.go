package resolvers

import (
	"context"

	"github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	lru "github.com/hashicorp/golang-lru/v2"
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
func complexityRoot() graph.ComplexityRoot {
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

// operationLimits refuses, before anything runs, operations that cost more than
// Complexity, are deeper than Depth or use more than Aliases aliases (and, when
// introspection is off, those that introspect). What it learns of an operation is kept
// by the operation's parsed definition, which the query cache hands out again for the
// same document, so a repeated operation is not walked again: the shape always, the
// complexity when no field priced by its arguments (pricedByArguments) takes one from a
// variable.
type operationLimits struct {
	Limits
	// noIntrospection refuses __schema and __type: turning gqlgen's introspection off
	// would also break federation's _service, which is built from it.
	noIntrospection bool
	es              graphql.ExecutableSchema
	seen            *lru.Cache[*ast.OperationDefinition, opFacts]
}

// opFacts is what operationLimits keeps of one operation.
type opFacts struct {
	depth, aliases int
	introspects    bool
	// complexity is the operation's cost when static; otherwise it is computed per request.
	complexity int
	static     bool
}

// pricedByArguments are the fields whose complexity function (complexityRoot()) reads their
// arguments; TestPricedByArgumentsMatchesComplexity keeps the two in step.
var pricedByArguments = map[string]bool{"Query.connectSessions": true}

func newOperationLimits(l Limits, noIntrospection bool, es graphql.ExecutableSchema, size int) *operationLimits {
	seen, _ := lru.New[*ast.OperationDefinition, opFacts](size) // size > 0
	return &operationLimits{Limits: l, noIntrospection: noIntrospection, es: es, seen: seen}
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = (*operationLimits)(nil)

func (*operationLimits) ExtensionName() string                   { return "OperationLimits" }
func (*operationLimits) Validate(graphql.ExecutableSchema) error { return nil }

func (o *operationLimits) MutateOperationContext(ctx context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	op := opCtx.Operation
	if op == nil {
		return nil
	}
	facts, ok := o.seen.Get(op)
	if !ok {
		w := shapeWalker{doc: opCtx.Doc}
		facts.depth = w.depth(op.SelectionSet, nil)
		facts.aliases, facts.introspects, facts.static = w.aliases, w.introspects, !w.variablePrice
		if facts.static {
			facts.complexity = complexity.Calculate(ctx, o.es, op, opCtx.Variables)
		}
		o.seen.Add(op, facts)
	}
	cost := facts.complexity
	if !facts.static {
		cost = complexity.Calculate(ctx, o.es, op, opCtx.Variables)
	}
	if cost > o.Complexity {
		err := gqlerror.Errorf("operation has complexity %d, which exceeds the limit of %d", cost, o.Complexity)
		errcode.Set(err, CodeComplexityLimit)
		return err
	}
	if facts.depth > o.Depth {
		err := gqlerror.Errorf("operation is %d levels deep, which exceeds the limit of %d", facts.depth, o.Depth)
		errcode.Set(err, CodeDepthLimit)
		return err
	}
	if facts.introspects && o.noIntrospection {
		err := gqlerror.Errorf("introspection is turned off on this service")
		errcode.Set(err, errcode.ValidationFailed)
		return err
	}
	if facts.aliases > o.Aliases {
		err := gqlerror.Errorf("operation uses %d aliases, which exceeds the limit of %d", facts.aliases, o.Aliases)
		errcode.Set(err, CodeComplexityLimit)
		return err
	}
	return nil
}

type shapeWalker struct {
	doc         *ast.QueryDocument
	aliases     int
	introspects bool
	// variablePrice: a field in pricedByArguments takes an argument from a variable.
	variablePrice bool
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
			if s.ObjectDefinition != nil && pricedByArguments[s.ObjectDefinition.Name+"."+s.Name] && usesVariable(s.Arguments) {
				w.variablePrice = true
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
				if seen == nil {
					seen = map[string]bool{}
				}
				seen[s.Name] = true
				d = w.depth(f.SelectionSet, seen)
				delete(seen, s.Name)
			}
		}
		deepest = max(deepest, d)
	}
	return deepest
}

// usesVariable reports whether any of the arguments takes a variable, anywhere in its value.
func usesVariable(args ast.ArgumentList) bool {
	var walk func(v *ast.Value) bool
	walk = func(v *ast.Value) bool {
		if v == nil {
			return false
		}
		if v.Kind == ast.Variable {
			return true
		}
		for _, c := range v.Children {
			if walk(c.Value) {
				return true
			}
		}
		return false
	}
	for _, a := range args {
		if walk(a.Value) {
			return true
		}
	}
	return false
}
