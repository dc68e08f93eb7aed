package httpapi

import (
	"context"
	"errors"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"connectsession/graph/model"
	"connectsession/resolvers"
)

// CodeDocumentLimit is the extensions.code of a document refused before it is parsed or
// validated: too many bytes, tokens or fields, or one response name repeated too often.
const CodeDocumentLimit = "DOCUMENT_LIMIT_EXCEEDED"

// documentLimits runs before gqlgen parses and validates a document, for every transport
// and for persisted queries (it runs after the persisted-query lookup). Validation's
// cost grows with the square of the fields that share a response name in one selection
// set (the overlapping-fields rule compares them in pairs), so a document is first
// measured by a walk that is linear in its size: its bytes, its tokens, the fields it
// holds with fragments expanded, and how often one response name repeats in one
// selection set. Callers without a valid API key get a much smaller allowance: they may
// only run authenticateConnectSession, which needs a few hundred bytes.
//
// A document found in the query cache was measured when it was added, so a repeated
// query costs one cache lookup here.
type documentLimits struct {
	Limits
	auth    resolvers.Authorizer
	cache   graphql.Cache[*ast.QueryDocument]
	present graphql.ErrorPresenterFunc
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = (*documentLimits)(nil)

func (*documentLimits) ExtensionName() string                   { return "DocumentLimits" }
func (*documentLimits) Validate(graphql.ExecutableSchema) error { return nil }

func (d *documentLimits) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	hasKey, err := callerHasKey(ctx, d.auth)
	if err != nil {
		return d.present(ctx, err)
	}
	maxBytes, maxFields, who := d.DocumentBytes, d.Fields, ""
	if !hasKey {
		maxBytes, maxFields, who = d.KeylessDocumentBytes, d.KeylessFields, " for a caller without an API key"
	}
	if len(p.Query) > maxBytes {
		return documentError("the document has %d bytes, more than the %d allowed%s", len(p.Query), maxBytes, who)
	}
	if _, ok := d.cache.Get(ctx, p.Query); ok {
		return nil
	}
	if n := countTokens(p.Query, d.Tokens); n > d.Tokens {
		return documentError("the document has more than %d tokens, the most allowed", d.Tokens)
	}
	doc, perr := parser.ParseQuery(&ast.Source{Input: p.Query})
	if perr != nil {
		var gqlErr *gqlerror.Error
		if errors.As(perr, &gqlErr) {
			errcode.Set(gqlErr, errcode.ParseFailed)
			return gqlErr
		}
		return documentError("the document could not be parsed")
	}
	m := measure(doc, maxFields)
	if m.fields > maxFields {
		return documentError("the document selects more than %d fields (fragments expanded), the most allowed%s", maxFields, who)
	}
	if m.repeated > d.RepeatedFields {
		return documentError("the response name %q appears %d times in one selection set, more than the %d allowed",
			m.repeatedName, m.repeated, d.RepeatedFields)
	}
	return nil
}

// callerHasKey reports whether the caller presents a valid API key; an unavailable key
// store is an error, not a missing key, so that a keyed caller is not told its document
// is too large for a keyless one while Redis is away.
func callerHasKey(ctx context.Context, auth resolvers.Authorizer) (bool, error) {
	err := auth.Authenticate(ctx)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, model.ErrUnauthenticated):
		return false, nil
	default:
		return false, err
	}
}

func documentError(format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, args...)
	errcode.Set(err, CodeDocumentLimit)
	return err
}

// countTokens counts the document's tokens, stopping once it has seen more than limit.
// A lexing error stops the count: the parser reports it.
func countTokens(query string, limit int) int {
	lx := lexer.New(&ast.Source{Input: query})
	n := 0
	for n <= limit {
		tok, err := lx.ReadToken()
		if err != nil || tok.Kind == lexer.EOF {
			break
		}
		if tok.Kind != lexer.Comment {
			n++
		}
	}
	return n
}

// docMeasure is what measure finds in a document.
type docMeasure struct {
	// fields counts every field selection, argument, directive and value node with
	// fragment spreads expanded (saturating past the limit), over all operations and
	// fragment definitions: validation visits all of them, a fragment once for each
	// operation that spreads it, and may report an error for each.
	fields int
	// repeated is the most times one response name (alias or name) occurs in one
	// selection set, fragments merged in, and repeatedName that name.
	repeated     int
	repeatedName string
}

// measure walks doc once, expanding each fragment at most once (its counts are
// remembered), so its cost is linear in the document whatever its fragments multiply to.
// Fragment cycles count as empty here; validation refuses them.
func measure(doc *ast.QueryDocument, fieldLimit int) docMeasure {
	w := measurer{doc: doc, limit: fieldLimit, frags: map[string]*fragMeasure{}}
	var m docMeasure
	add := func(n int) { m.fields = min(m.fields+n, fieldLimit+1) }
	for _, op := range doc.Operations {
		add(1 + directiveNodes(op.Directives) + w.set(op.SelectionSet))
		for _, v := range op.VariableDefinitions {
			add(1 + valueNodes(v.DefaultValue) + directiveNodes(v.Directives))
		}
	}
	for _, f := range doc.Fragments {
		fm := w.fragment(f.Name)
		add(fm.fields)
		w.note(fm.names) // validation also checks a fragment's own selection set
	}
	m.repeated, m.repeatedName = w.repeated, w.repeatedName
	return m
}

type fragMeasure struct {
	done   bool
	fields int
	// names counts the response names a spread of the fragment adds to the selection
	// set it stands in.
	names map[string]int
}

type measurer struct {
	doc          *ast.QueryDocument
	limit        int
	frags        map[string]*fragMeasure
	repeated     int
	repeatedName string
}

// set returns the fields of a selection set (fragments expanded) and records its most
// repeated response name.
func (w *measurer) set(set ast.SelectionSet) int {
	names := map[string]int{}
	n := w.collect(set, names)
	w.note(names)
	return n
}

// note records the most repeated of names.
func (w *measurer) note(names map[string]int) {
	for name, c := range names {
		if c > w.repeated {
			w.repeated, w.repeatedName = c, name
		}
	}
}

// collect adds the response names that set contributes to its enclosing selection set
// (inline fragments and spreads merge into it) and returns its expanded field count.
func (w *measurer) collect(set ast.SelectionSet, names map[string]int) int {
	n := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			name := s.Alias
			if name == "" {
				name = s.Name
			}
			names[name]++
			n = min(n+1+argumentNodes(s.Arguments)+directiveNodes(s.Directives)+w.set(s.SelectionSet), w.limit+1)
		case *ast.InlineFragment:
			n = min(n+directiveNodes(s.Directives)+w.collect(s.SelectionSet, names), w.limit+1)
		case *ast.FragmentSpread:
			f := w.fragment(s.Name)
			for name, c := range f.names {
				names[name] += c
			}
			n = min(n+directiveNodes(s.Directives)+f.fields, w.limit+1)
		}
	}
	return n
}

// fragment measures a fragment definition once; an unknown or cyclic one is empty.
func (w *measurer) fragment(name string) *fragMeasure {
	if f, ok := w.frags[name]; ok {
		if !f.done {
			return &fragMeasure{} // a cycle
		}
		return f
	}
	f := &fragMeasure{names: map[string]int{}}
	w.frags[name] = f
	if def := w.doc.Fragments.ForName(name); def != nil {
		f.fields = w.collect(def.SelectionSet, f.names)
		for n, c := range f.names {
			f.names[n] = min(c, w.limit+1)
		}
	}
	f.done = true
	return f
}

// argumentNodes counts arguments and the nodes of their values.
func argumentNodes(args ast.ArgumentList) int {
	n := 0
	for _, a := range args {
		n += 1 + valueNodes(a.Value)
	}
	return n
}

// directiveNodes counts directives and their arguments.
func directiveNodes(ds ast.DirectiveList) int {
	n := 0
	for _, d := range ds {
		n += 1 + argumentNodes(d.Arguments)
	}
	return n
}

// valueNodes counts the nodes of a value: 1 for a scalar or variable, more for lists
// and objects.
func valueNodes(v *ast.Value) int {
	if v == nil {
		return 0
	}
	n := 1
	for _, c := range v.Children {
		n += valueNodes(c.Value)
	}
	return n
}

// MaxValidationErrors is how many validation errors one document is answered with: the
// rest are dropped, so that an answer stays small even for a document written to fail
// every rule many times.
const MaxValidationErrors = 100

// cappedRules returns gqlparser's default rules, each reporting into one shared count that
// stops at MaxValidationErrors. gqlgen asks for a fresh set for every document it
// validates.
func cappedRules() *rules.Rules {
	r := rules.NewDefaultRules()
	reported := 0
	for name, fn := range r.GetInner() {
		r.ReplaceRule(name, func(observers *core.Events, addError core.AddErrFunc) {
			fn(observers, func(options ...core.ErrorOption) {
				if reported < MaxValidationErrors {
					reported++
					addError(options...)
				}
			})
		})
	}
	return r
}
