// Command bare is the benchmark's second reference: the service's own schema and
// resolvers behind a bare gqlgen handler, the way a gqlgen tutorial serves them. POST
// only, a cache of parsed documents, and nothing else: no API keys (every caller may
// read every tenant), no limits, metrics, persisted queries, CSRF rule, request ids or
// deadlines. Its point read is the same single Redis GET as the service's, so the
// service/bare ratio is what the service's production parts cost on top of gqlgen, and
// bare/floor what gqlgen itself costs on this machine.
//
//	go run ./bench/bare -addr 127.0.0.1:8091 -redis-url redis://127.0.0.1:6390/0
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"connectsession/cache"
	"connectsession/graph"
	"connectsession/resolvers"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8091", "listen address")
	url := flag.String("redis-url", "redis://127.0.0.1:6379/0", "redis:// URL of the service's Redis")
	prefix := flag.String("prefix", "cs", "the service's key prefix")
	flag.Parse()
	rdb, err := cache.Connect(*url, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bare:", err)
		os.Exit(1)
	}
	store := cache.New(rdb, cache.Options{Prefix: *prefix})
	r := &resolvers.Resolver{Store: store, Auth: resolvers.AllowAll{}}
	srv := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: r}))
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	http.Handle("/graphql", srv)
	log.Fatal(http.ListenAndServe(*addr, nil))
}
