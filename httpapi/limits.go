package httpapi

import (
	"context"
	"slices"

	"github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"connectsession/graph"
	"connectsession/graph/model"
	"connectsession/resolvers"
)

// Limits bound what one operation may ask for. Zero fields take the defaults
// (DefaultLimits).
type Limits struct {
	// Complexity is the most an operation may cost: every field costs 1, a list's
	// fields count once per item it can hold (connectSessions: first or last, else 20;
	// connectSessionEventLog and webhookDeliveries: first, else 50; webhookEndpoints: 10; _entities: its representations; introspection lists: as many as the schema has),
	// metadata costs MetadataPrice, and a page whose filter combines two or more
	// equality fields costs CombinedFilterPrice more.
	Complexity int
	// Depth is the deepest selection allowed, introspection included.
	Depth int
	// Aliases is how many aliased fields one operation may use, introspection included.
	Aliases int
	// DocumentBytes and Tokens bound a document before it is parsed: its size and its
	// lexical tokens. Fields bounds it before it is validated: its nodes (field
	// selections, arguments, directives and values) with fragments expanded for each
	// operation. RepeatedFields bounds how often one response name may occur in one
	// selection set (validation compares those in pairs).
	DocumentBytes, Tokens, Fields, RepeatedFields int
	// KeylessDocumentBytes and KeylessFields are the allowance of a caller without a
	// valid API key, who may only run authenticateConnectSession (and __typename).
	KeylessDocumentBytes, KeylessFields int
}

// DefaultLimits are the limits a zero field takes.
var DefaultLimits = Limits{
	Complexity: 10000, Depth: 15, Aliases: 30,
	DocumentBytes: 32 << 10, Tokens: 4000, Fields: 1000, RepeatedFields: 20,
	KeylessDocumentBytes: 2 << 10, KeylessFields: 50,
}

// MetadataPrice is what a session's metadata costs: up to 8 KiB, where other fields hold
// at most 255 characters. At 20, an operation within the default complexity carries at
// most 500 of them (4 MiB: nine pages of 100 with metadata made a 7 MB answer at 10), and
// a page of 100 with every field, as edges and as nodes, still fits.
const MetadataPrice = 20

// CombinedFilterPrice is what a connectSessions page costs on top of its fields when its
// filter combines two or more equality fields: such a page walks one index and checks
// the others, up to the store's scan budget, instead of reading matches directly.
const CombinedFilterPrice = 1000

// The extensions.code values of the limits.
const (
	CodeComplexityLimit = "COMPLEXITY_LIMIT_EXCEEDED"
	CodeDepthLimit      = "DEPTH_LIMIT_EXCEEDED"
)

func (l *Limits) defaults() {
	d := DefaultLimits
	for _, f := range []struct{ v, def *int }{
		{&l.Complexity, &d.Complexity}, {&l.Depth, &d.Depth}, {&l.Aliases, &d.Aliases},
		{&l.DocumentBytes, &d.DocumentBytes}, {&l.Tokens, &d.Tokens}, {&l.Fields, &d.Fields},
		{&l.RepeatedFields, &d.RepeatedFields}, {&l.KeylessDocumentBytes, &d.KeylessDocumentBytes},
		{&l.KeylessFields, &d.KeylessFields},
	} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
}

// complexityRoot prices the fields whose cost grows with their arguments.
func complexityRoot() graph.ComplexityRoot {
	var c graph.ComplexityRoot
	c.Query.ConnectSessions = func(child int, _ int, _ string, filter *model.ConnectSessionFilter, _ *model.ConnectSessionOrder, first *int, _ *string, last *int, _ *string) int {
		n := model.DefaultPageSize
		switch {
		case first != nil && *first >= 0:
			n = *first
		case last != nil && *last >= 0:
			n = *last
		}
		cost := 1 + max(n, 1)*child
		if filter.EqualityFields() > 1 {
			cost += CombinedFilterPrice
		}
		return cost
	}
	c.Query.ConnectSessionEventLog = func(child int, _ int, _ string, _ *string, first *int) int {
		n := 50 // the schema's default
		if first != nil && *first >= 0 {
			n = *first
		}
		return 1 + max(n, 1)*child
	}
	c.Query.WebhookDeliveries = func(child int, _ int, _ string, _ string, first *int) int {
		n := 50 // the schema's default
		if first != nil && *first >= 0 {
			n = *first
		}
		return 1 + max(n, 1)*child
	}
	// A project holds at most WEBHOOK_MAX_ENDPOINTS endpoints: priced at the default,
	// a bound the setting rarely moves far.
	c.Query.WebhookEndpoints = func(child int, _ int, _ string) int {
		return 1 + resolvers.DefaultMaxWebhookEndpoints*child
	}
	return c
}

// pricedByArguments are the fields whose price reads their arguments (complexityRoot's
// functions and pricing's own); TestPricedByArgumentsMatchesComplexity keeps the list in
// step with complexityRoot.
var pricedByArguments = map[string]bool{"Query.connectSessions": true, "Query.connectSessionEventLog": true, "Query._entities": true,
	"Query.webhookDeliveries": true, "Query.webhookEndpoints": true}

// pricing is the schema as the complexity walk sees it: gqlgen's generated prices, plus
// those that generated code cannot take (_entities, whose price function is not
// exported), metadata's weight, and introspection, which complexityWalk prices itself.
// It counts the representations it meets in reps.
type pricing struct {
	graphql.ExecutableSchema
	reps int
}

func (p *pricing) Complexity(ctx context.Context, typeName, field string, child int, args map[string]any) (int, bool) {
	switch {
	case typeName == "Query" && field == "_entities":
		n := 0
		switch reps := args["representations"].(type) {
		case []any:
			n = len(reps)
		case []map[string]any:
			n = len(reps)
		}
		p.reps += n
		return 1 + max(n, 1)*child, true
	case typeName == "Query" && field == "__type":
		return 1, true // its selection is priced with the introspection multipliers
	case typeName == "ConnectSession" && field == "metadata":
		return MetadataPrice, true
	}
	return p.ExecutableSchema.Complexity(ctx, typeName, field, child, args)
}

// operationLimits refuses, before anything runs, an operation that a caller without a
// key may not run, or that costs more than Complexity, is deeper than Depth or uses more
// than Aliases aliases (and, when introspection is off, one that introspects). What it
// learns of an operation is kept with the document in the query cache, so a repeated
// operation is not walked again: the shape always, the complexity when no field priced
// by its arguments (pricedByArguments) takes one from a variable.
type operationLimits struct {
	Limits
	// noIntrospection refuses __schema and __type: turning gqlgen's introspection off
	// would also break federation's _service, which is built from it.
	noIntrospection bool
	es              graphql.ExecutableSchema
	docs            *documentCache
	auth            resolvers.Authorizer
	present         graphql.ErrorPresenterFunc
	lists           introspectionLists
}

// opFacts is what operationLimits keeps of one operation.
type opFacts struct {
	depth, aliases int
	introspects    bool
	rootFields     []string
	// introspection is the price of the operation's introspection fields, which
	// gqlgen's complexity skips.
	introspection int
	// complexity is the operation's whole cost when static; otherwise it is computed per
	// request.
	complexity int
	static     bool
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = (*operationLimits)(nil)

func (*operationLimits) ExtensionName() string                   { return "OperationLimits" }
func (*operationLimits) Validate(graphql.ExecutableSchema) error { return nil }

// keylessRoots are the root fields a caller without a key may select.
var keylessRoots = []string{"authenticateConnectSession", "__typename"}

func (o *operationLimits) MutateOperationContext(ctx context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	op := opCtx.Operation
	if op == nil {
		return nil
	}
	facts, ok := o.docs.facts(opCtx.RawQuery, op)
	if !ok {
		w := shapeWalker{doc: opCtx.Doc, lists: o.lists}
		facts.depth, facts.introspection = w.walk(op.SelectionSet, false, 0, nil)
		facts.aliases, facts.introspects, facts.static = w.aliases, w.introspects, !w.variablePrice
		facts.rootFields = collectRootFields(opCtx.Doc, op.SelectionSet, nil, nil)
		if facts.static {
			facts.complexity = o.price(ctx, op, opCtx.Variables, &facts)
		}
		o.docs.setFacts(opCtx.RawQuery, op, facts)
	}
	hasKey, err := callerHasKey(ctx, o.auth)
	if err != nil {
		return o.present(ctx, err)
	}
	if !hasKey {
		for _, f := range facts.rootFields {
			if !slices.Contains(keylessRoots, f) {
				return o.present(ctx, o.auth.Authenticate(ctx))
			}
		}
	}
	cost := facts.complexity
	if !facts.static {
		cost = o.price(ctx, op, opCtx.Variables, &facts)
	}
	if cost < 0 {
		err := gqlerror.Errorf("operation asks for more than %d entities", resolvers.MaxRepresentations)
		errcode.Set(err, CodeComplexityLimit)
		return err
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

// collectRootFields adds to names the fields that set selects at its own level, through
// inline fragments and fragment spreads (seen guards against cycles).
func collectRootFields(doc *ast.QueryDocument, set ast.SelectionSet, names []string, seen map[string]bool) []string {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if !slices.Contains(names, s.Name) {
				names = append(names, s.Name)
			}
		case *ast.InlineFragment:
			names = collectRootFields(doc, s.SelectionSet, names, seen)
		case *ast.FragmentSpread:
			if f := doc.Fragments.ForName(s.Name); f != nil && !seen[s.Name] {
				if seen == nil {
					seen = map[string]bool{}
				}
				seen[s.Name] = true
				names = collectRootFields(doc, f.SelectionSet, names, seen)
			}
		}
	}
	return names
}

// price is the operation's complexity, or -1 when it asks for more than
// resolvers.MaxRepresentations entities.
func (o *operationLimits) price(ctx context.Context, op *ast.OperationDefinition, vars map[string]any, facts *opFacts) int {
	p := &pricing{ExecutableSchema: o.es}
	cost := complexity.Calculate(ctx, p, op, vars)
	if p.reps > resolvers.MaxRepresentations {
		return -1
	}
	return min(cost, o.Complexity+1) + min(facts.introspection, o.Complexity+1)
}

// registerAdmitted registers a query sent with its persisted-query hash, for a caller
// with a key, once its operation has reached this middleware: it has parsed, validated
// and passed the limits (otherwise no operation middleware runs), and the middlewares
// before this one (admission, the per-key budgets) let it through.
func registerAdmitted(register func(ctx context.Context, hash, query string), auth resolvers.Authorizer) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		if st := extension.GetApqStats(ctx); st != nil && st.SentQuery {
			if hasKey, _ := callerHasKey(ctx, auth); hasKey {
				register(ctx, st.Hash, graphql.GetOperationContext(ctx).RawQuery)
			}
		}
		return next(ctx)
	}
}

// registerLater is the persisted-query store as gqlgen's extension sees it: lookups go
// through, but registrations wait for operationLimits.register.
type registerLater struct{ graphql.Cache[string] }

func (registerLater) Add(context.Context, string, string) {}
