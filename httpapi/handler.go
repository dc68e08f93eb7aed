// Package httpapi is the service's GraphQL endpoint over HTTP: the gqlgen handler and its
// transports (WebSocket, SSE, GET, POST), the limits measured before a document is parsed
// and priced before it runs, per-key budgets and socket caps, and the operation
// middlewares (deadline, admission, persisted queries, metrics and tracing hooks). It
// runs the resolvers of package resolvers; nothing below it imports it.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"connectsession/graph"
	"connectsession/resolvers"
)

// HandlerOptions tune the GraphQL handler.
type HandlerOptions struct {
	// QueryCacheSize is how many parsed and validated documents are kept (default 1000),
	// and QueryCacheBytes the estimated memory they may take (default
	// DefaultQueryCacheBytes).
	QueryCacheSize  int
	QueryCacheBytes int64
	// WebSocketInit, when set, derives a WebSocket connection's context from its
	// connection_init payload (the API key travels there). Its error refuses the
	// connection: the socket is closed with 4400 and the error's text as the reason.
	WebSocketInit func(ctx context.Context, payload map[string]any) (context.Context, error)
	// AllowedOrigins are the browser origins (such as https://app.example.com) that may
	// open WebSockets besides the service's own.
	AllowedOrigins []string
	// PersistedQueries, when set, turns on automatic persisted queries (Apollo's
	// protocol, over POST and GET) with this hash → query store.
	PersistedQueries graphql.Cache[string]
	// RegisterPersisted, when set, registers the persisted query of an admitted operation
	// in place of PersistedQueries.Add (the service bounds each key's registrations
	// there). It is called only for a caller with a key, once the operation has passed
	// every limit, Admit and Budgets.
	RegisterPersisted func(ctx context.Context, hash, query string)
	// Observe, when set, is told of every query and mutation once it is answered: its
	// root fields (sorted, comma-joined: a bounded set), the first error's
	// extensions.code or "OK", and how long it took.
	Observe func(ctx context.Context, operation, code string, took time.Duration)
	// Tracer, when set, wraps every query and mutation in a span named after its root
	// fields, parent of the spans of the Redis calls it makes.
	Tracer trace.Tracer
	// Limits bound each operation: its document's size, tokens and nodes before it is
	// parsed or validated, then its cost, depth and aliases.
	Limits Limits
	// DisableIntrospection turns off __schema and __type (federation's _service stays).
	DisableIntrospection bool
	// Admit, when set, is asked once per operation (a subscription: once, when it
	// starts), before anything runs, whether the caller may run it now; its error
	// refuses the operation and is presented as a resolver's would be (a
	// *model.RateLimitError as RATE_LIMITED with retryAfter). Refusals reach Observe too.
	Admit func(ctx context.Context) error
	// Budgets bound what callers hold at once on this instance (subscriptions per
	// WebSocket and per key, operations in flight per key, idle and keyless sockets).
	Budgets Budgets
	// OperationTimeout, when positive, is the deadline of a query or mutation that
	// arrives without one (over a WebSocket, or served as an SSE stream); the server
	// gives ordinary HTTP requests theirs.
	OperationTimeout time.Duration
	// InitTimeout closes a WebSocket that has not sent connection_init this long after
	// its upgrade (default DefaultInitTimeout; it holds a place without having shown a
	// key).
	InitTimeout time.Duration
	// KeepAlive is the WebSocket ping interval that finds dead clients (default 15s).
	KeepAlive time.Duration
	Logger    *slog.Logger
}

// DefaultQueryCacheBytes is the estimated memory the parsed documents a handler keeps
// may take unless HandlerOptions say otherwise.
const DefaultQueryCacheBytes = 32 << 20

// DefaultInitTimeout is how long a WebSocket may wait after its upgrade before sending
// connection_init unless HandlerOptions say otherwise.
const DefaultInitTimeout = 5 * time.Second

// NewHandler returns the GraphQL handler for r: WebSocket (graphql-transport-ws and
// graphql-ws), Server-Sent Events, GET, POST and OPTIONS transports, a cache of parsed
// documents, introspection, and the error presenter and recover func of package resolvers.
// It refuses a Resolver without an Auth: letting every caller through is a choice
// (resolvers.AllowAll{}), never what a forgotten field means.
func NewHandler(r *resolvers.Resolver, opts HandlerOptions) (*handler.Server, error) {
	if r.Auth == nil {
		return nil, errors.New("httpapi: NewHandler: the resolvers.Resolver has no Auth (pass resolvers.AllowAll{} to let every caller through)")
	}
	if opts.QueryCacheSize <= 0 {
		opts.QueryCacheSize = 1000
	}
	if opts.QueryCacheBytes <= 0 {
		opts.QueryCacheBytes = DefaultQueryCacheBytes
	}
	if opts.InitTimeout <= 0 {
		opts.InitTimeout = DefaultInitTimeout
	}
	if opts.KeepAlive <= 0 {
		opts.KeepAlive = 15 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Limits.defaults()
	present := resolvers.ErrorPresenter(opts.Logger)
	es := graph.NewExecutableSchema(graph.Config{Resolvers: r, Complexity: complexityRoot()})
	srv := handler.New(es)
	budget := newLedger(opts.Budgets)
	ws := transport.Websocket{
		Implementation: transport.CoderWebsocketImplementation{AcceptOptions: websocket.AcceptOptions{
			OriginPatterns: originHosts(opts.AllowedOrigins),
		}},
		KeepAlivePingInterval: opts.KeepAlive,
		InitTimeout:           opts.InitTimeout,
		InitFunc: func(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			if opts.WebSocketInit != nil {
				var err error
				if ctx, err = opts.WebSocketInit(ctx, p); err != nil {
					// gqlgen closes with the code and reason the returned context carries.
					ctx = transport.WithWebsocketCloseCode(ctx, closeBadInit)
					return transport.AppendCloseReason(ctx, err.Error()), nil, err
				}
			}
			budget.initialized(ctx)
			return ctx, nil, nil
		},
	}
	if budget.sockets() {
		ws.Implementation = keepConn{ws.Implementation}
		srv.AddTransport(refusedUpgrades{budgetedWebsocket{Websocket: ws, l: budget}})
	} else {
		srv.AddTransport(refusedUpgrades{&ws})
	}
	srv.AddTransport(checkedSSE{})
	srv.AddTransport(optionsOnly{})
	srv.AddTransport(checkedGET{})
	srv.AddTransport(checkedPOST{})
	srv.AddTransport(unsupported{}) // last: what no other transport takes
	srv.Use(extension.Introspection{})
	srv.Use(subscriptionEnds{present: present})
	useLimits(srv, es, r.Auth, opts, present)
	// Operation middlewares run in the order they are added, the first outermost.
	if opts.OperationTimeout > 0 {
		srv.AroundOperations(operationDeadline(opts.OperationTimeout))
	}
	if budget.operations() {
		// Before admit: a refusal here costs no rate-limit token.
		srv.AroundOperations(budget.around(present, opts.Observe))
	}
	if opts.Admit != nil {
		srv.AroundOperations(admit(opts.Admit, present, opts.Observe))
	}
	if opts.PersistedQueries != nil {
		// Last: only an operation that every limit and admission let through registers
		// its query, so a refused one stores nothing.
		register := opts.RegisterPersisted
		if register == nil {
			register = opts.PersistedQueries.Add
		}
		srv.AroundOperations(registerAdmitted(register, r.Auth))
	}
	if opts.Observe != nil {
		srv.AroundResponses(observe(opts.Observe))
	}
	if opts.Tracer != nil {
		srv.AroundResponses(traceOperations(opts.Tracer))
	}
	srv.AroundRootFields(skipEndedRootFields)
	srv.SetErrorPresenter(present)
	srv.SetRecoverFunc(resolvers.Recover(opts.Logger))
	return srv, nil
}

// useLimits installs the query cache, the persisted-query lookup and the limits of
// opts.Limits on srv (opts' defaults already applied).
func useLimits(srv *handler.Server, es graphql.ExecutableSchema, auth resolvers.Authorizer, opts HandlerOptions, present graphql.ErrorPresenterFunc) {
	docs := newDocumentCache(opts.QueryCacheSize, opts.QueryCacheBytes)
	srv.SetQueryCache(docs)
	srv.SetParserTokenLimit(opts.Limits.Tokens)
	srv.SetValidationRulesFn(cappedRules)
	// Extensions run in the order they are added: the persisted-query lookup fills in
	// the query that documentLimits then measures.
	if opts.PersistedQueries != nil {
		srv.Use(extension.AutomaticPersistedQuery{Cache: registerLater{opts.PersistedQueries}})
	}
	srv.Use(&documentLimits{Limits: opts.Limits, auth: auth, cache: docs, present: present})
	srv.Use(&operationLimits{Limits: opts.Limits, noIntrospection: opts.DisableIntrospection, es: es,
		docs: docs, auth: auth, present: present, lists: newIntrospectionLists(es.Schema())})
}

// originHosts turns origins into the host patterns the WebSocket upgrade checks.
func originHosts(origins []string) []string {
	var out []string
	for _, o := range origins {
		if u, err := url.Parse(o); err == nil && u.Host != "" {
			out = append(out, u.Host)
		} else if o == "*" {
			out = append(out, "*")
		}
	}
	return out
}

// rootFields names an operation by its root fields, sorted and comma-joined: a set the
// schema bounds, unlike client-chosen operation names.
func rootFields(op *ast.OperationDefinition) string {
	if len(op.SelectionSet) == 1 { // the common case, without allocating
		if f, ok := op.SelectionSet[0].(*ast.Field); ok {
			return f.Name
		}
	}
	var fields []string
	for _, sel := range op.SelectionSet {
		if f, ok := sel.(*ast.Field); ok && !slices.Contains(fields, f.Name) {
			fields = append(fields, f.Name)
		}
	}
	slices.Sort(fields)
	return strings.Join(fields, ",")
}

// traceOperations wraps each query and mutation in a span.
func traceOperations(tracer trace.Tracer) graphql.ResponseMiddleware {
	return func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		if !graphql.HasOperationContext(ctx) {
			return next(ctx)
		}
		opCtx := graphql.GetOperationContext(ctx)
		if opCtx.Operation == nil || opCtx.Operation.Operation == ast.Subscription {
			return next(ctx)
		}
		ctx, span := tracer.Start(ctx, "graphql "+rootFields(opCtx.Operation), trace.WithAttributes(
			attribute.String("graphql.operation.type", string(opCtx.Operation.Operation)),
			attribute.String("graphql.operation.name", opCtx.OperationName),
		))
		defer span.End()
		resp := next(ctx)
		if resp != nil && len(resp.Errors) > 0 {
			code, _ := resp.Errors[0].Extensions["code"].(string)
			span.SetAttributes(attribute.String("graphql.error.code", code))
			span.SetStatus(codes.Error, resp.Errors[0].Message)
		}
		return resp
	}
}

// admit refuses an operation before it runs when fn says so, with the error as the
// presenter shows it, and reports the refusal to report (when set).
func admit(fn func(context.Context) error, present graphql.ErrorPresenterFunc,
	report func(ctx context.Context, operation, code string, took time.Duration)) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		if err := fn(ctx); err != nil {
			return refuse(ctx, err, present, report)
		}
		return next(ctx)
	}
}

// refuse answers an operation with err alone, as the presenter shows it, and reports the
// refusal to report (when set) under its code.
func refuse(ctx context.Context, err error, present graphql.ErrorPresenterFunc,
	report func(ctx context.Context, operation, code string, took time.Duration)) graphql.ResponseHandler {
	gqlErr := present(ctx, err)
	if report != nil && graphql.HasOperationContext(ctx) {
		opCtx := graphql.GetOperationContext(ctx)
		if opCtx.Operation != nil {
			code, _ := gqlErr.Extensions["code"].(string)
			report(ctx, rootFields(opCtx.Operation), code, time.Since(opCtx.Stats.OperationStart))
		}
	}
	return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{gqlErr}})
}

// observe reports each query and mutation to fn once its response is ready.
func observe(fn func(ctx context.Context, operation, code string, took time.Duration)) graphql.ResponseMiddleware {
	return func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		resp := next(ctx)
		if !graphql.HasOperationContext(ctx) {
			return resp
		}
		opCtx := graphql.GetOperationContext(ctx)
		if opCtx.Operation == nil || opCtx.Operation.Operation == ast.Subscription || resp == nil {
			return resp
		}
		code := "OK"
		if len(resp.Errors) > 0 {
			code, _ = resp.Errors[0].Extensions["code"].(string)
		}
		fn(ctx, rootFields(opCtx.Operation), code, time.Since(opCtx.Stats.OperationStart))
		return resp
	}
}
