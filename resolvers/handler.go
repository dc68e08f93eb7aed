package resolvers

import (
	"log/slog"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"connectsession/graph"
)

// HandlerOptions tune the GraphQL handler.
type HandlerOptions struct {
	// QueryCacheSize is how many parsed and validated documents are kept (default 1000).
	QueryCacheSize int
	Logger         *slog.Logger
}

// NewHandler returns the GraphQL-over-HTTP handler for r: POST, GET and OPTIONS
// transports, a cache of parsed documents, introspection, and the error presenter and
// recover func of this package.
func NewHandler(r *Resolver, opts HandlerOptions) *handler.Server {
	if opts.QueryCacheSize <= 0 {
		opts.QueryCacheSize = 1000
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if r.Auth == nil {
		r.Auth = AllowAll{}
	}
	srv := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: r}))
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](opts.QueryCacheSize))
	srv.Use(extension.Introspection{})
	srv.SetErrorPresenter(ErrorPresenter(opts.Logger))
	srv.SetRecoverFunc(Recover(opts.Logger))
	return srv
}
