package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/rs/cors"

	"connectsession/playground"
)

// Pinger is what readiness needs: an answer from Redis.
type Pinger interface {
	Ping(ctx context.Context) error
}

// RouteOptions are the settings the HTTP surface reads (README's Configuration table
// documents each).
type RouteOptions struct {
	// MaxBodyBytes bounds a request's body (413 over it); RequestTimeout is the deadline
	// of an ordinary request; ResponseWriteTimeout bounds how long a client may take to
	// receive a ready answer (0: off).
	MaxBodyBytes         int64
	RequestTimeout       time.Duration
	ResponseWriteTimeout time.Duration
	// CORSAllowedOrigins are the browser origins allowed cross-origin requests (none: no
	// CORS headers at all).
	CORSAllowedOrigins []string
	// PlaygroundAssetsDir, when set with a page, serves GraphiQL's bundles from there.
	PlaygroundAssetsDir string
}

// Routes wires the service's HTTP surface (the paths README.md lists). page is GraphiQL
// at /, nil when PLAYGROUND=false; its bundles are at /assets/ when PLAYGROUND_ASSETS_DIR
// is set.
//
// /graphql drops an Upgrade header that is not a WebSocket's, passes the CSRF rule, then the body limit, which also sets the request's
// deadline, client address and credential, then the answer's write deadline. Every
// request is logged with an id.
func Routes(cfg RouteOptions, gql http.Handler, store Pinger, page *playground.Page, metrics http.Handler, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/graphql", ignoreForeignUpgrades(preventCSRF(limitRequests(cfg.MaxBodyBytes, cfg.RequestTimeout, answerDeadline(cfg.ResponseWriteTimeout, gql)))))
	mux.Handle("GET /metrics", metrics)
	if page != nil {
		mux.Handle("GET /{$}", page)
		if cfg.PlaygroundAssetsDir != "" {
			mux.Handle("GET "+playground.AssetsPath, playground.Assets(cfg.PlaygroundAssetsDir))
		}
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /readyz", readyz(store))
	var h http.Handler = mux
	if len(cfg.CORSAllowedOrigins) > 0 {
		h = cors.New(cors.Options{
			AllowedOrigins: cfg.CORSAllowedOrigins,
			AllowedMethods: []string{http.MethodGet, http.MethodPost},
			AllowedHeaders: []string{"Authorization", "Content-Type", "Apollo-Require-Preflight",
				"X-Apollo-Operation-Name", "Apollo-Query-Plan-Experimental", "apollographql-client-name",
				"apollographql-client-version"},
			MaxAge: 600,
		}).Handler(h)
	}
	return accessLog(log, h)
}

// readyz answers 200 while Redis answers a PING within a second, 503 otherwise.
func readyz(store Pinger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := store.Ping(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("redis unavailable\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
}
