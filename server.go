// Command connectsession serves the ConnectSession GraphQL API over Redis.
//
//	go run .                  serve (embedded in-memory Redis unless REDIS_URL is set)
//	go run . -help            list the commands and settings
//	go run . apikey ...       manage API keys (go run . apikey help)
//	go run . verify ...       check (and repair) records against indexes and pointers
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"connectsession/auth"
	"connectsession/cache"
	"connectsession/graph/model"
	"connectsession/httpapi"
	"connectsession/playground"
	"connectsession/resolvers"
	"connectsession/webhooks"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "connectsession:", err)
		os.Exit(1)
	}
}

// run is the whole program: main only supplies the process's context, arguments,
// environment and output, so tests run it the same way. Help asked for (-h, -help,
// help) is written to stdout and is no error.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	err := dispatch(ctx, args, getenv, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

func dispatch(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	arg0, rest := "connectsession", []string(nil)
	if len(args) > 0 {
		arg0, rest = args[0], args[1:]
	}
	name := programName(arg0)
	// go-redis's own lines (a pool that cannot dial...) go to the same log as ours.
	cache.SetClientLogger((&config{}).logger(stderr))
	if len(rest) > 0 {
		switch rest[0] {
		case "apikey":
			return runAPIKey(ctx, name+" apikey", rest[1:], getenv, stdout, stderr)
		case "verify":
			return runVerify(ctx, name+" verify", rest[1:], getenv, stdout, stderr)
		case "help":
			rest = []string{"-help"}
		}
	}
	cfg, err := parseConfig(name, rest, getenv, stdout)
	if err != nil {
		return err
	}
	log := cfg.logger(stderr)
	cache.SetClientLogger(log)
	if pct, ok := gcPercent(getenv); ok {
		debug.SetGCPercent(pct)
	}
	return serve(ctx, cfg, log, stdout, invocation(arg0))
}

// gcPercent is the collector setting the service applies: defaultGCPercent, unless GOGC
// is in the environment (GOGC and GOMEMLIMIT there take precedence as usual).
func gcPercent(getenv func(string) string) (int, bool) {
	if getenv("GOGC") != "" {
		return 0, false
	}
	return defaultGCPercent, true
}

// defaultGCPercent is the service's GOGC when the environment sets none. The live heap is
// small (a few MiB), so at Go's default of 100 the collector runs tens of times a second
// under load. At 400, alternating with 200 under wrk (bench/README.md): creates 9.2-9.8k
// -> 10.3-10.9k per second (service CPU per create 92-104 -> 84-90 us), point reads about
// 3% more, peak RSS 38 -> 49 MiB.
const defaultGCPercent = 400

// readCacheMemoryLimit is the Go runtime's soft memory limit the service sets when the
// read cache is on and GOMEMLIMIT is not: at GOGC 400 a heap holding a full cache could
// grow to five times it before a collection, and the limit keeps it near the cache plus
// the service's own 64 MiB (its peak under the benchmark is about 60 MiB).
func readCacheMemoryLimit(cacheBytes int64) int64 { return 2*cacheBytes + 64<<20 }

// backend is the Redis the service runs on and how to let go of it.
type backend struct {
	rdb      redis.UniversalClient
	embedded *cache.Embedded
	// reads is the read cache (nil when off; see openReadCache).
	reads *cache.ReadCache
}

func (b *backend) Close() {
	if b.reads != nil {
		_ = b.reads.Close()
	}
	_ = b.rdb.Close()
	if b.embedded != nil {
		b.embedded.Close()
	}
}

// openRedis connects to the configured Redis, or starts the embedded one.
func openRedis(cfg *config) (*backend, error) {
	if cfg.RedisURL != "" || len(cfg.RedisClusterAddrs) > 0 {
		rdb, err := cache.Connect(cfg.RedisURL, cfg.RedisClusterAddrs)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		return &backend{rdb: rdb}, nil
	}
	e, err := cache.StartEmbedded(time.Second)
	if err != nil {
		return nil, err
	}
	rdb, err := cache.Connect("redis://"+e.Addr(), nil)
	if err != nil {
		e.Close()
		return nil, err
	}
	return &backend{rdb: rdb, embedded: e}, nil
}

// openReadCache returns the read cache the configuration asks for, or nil with the reason
// it is off logged once: READ_CACHE=off, the embedded Redis (miniredis cannot track
// keys), a cluster or a database other than 0 (go-redis tracks keys on one server's
// database 0 only).
func openReadCache(cfg *config, log *slog.Logger) (*cache.ReadCache, error) {
	switch {
	case !cfg.ReadCache:
		return nil, nil
	case len(cfg.RedisClusterAddrs) > 0:
		log.Info("read cache off: it needs a single Redis server, and REDIS_CLUSTER_ADDRS names a cluster")
		return nil, nil
	case cfg.RedisURL == "":
		log.Info("read cache off: the embedded Redis cannot track keys")
		return nil, nil
	}
	rc, err := cache.NewReadCache(cfg.RedisURL, cache.ReadCacheOptions{MaxBytes: cfg.ReadCacheMaxBytes, MaxStaleness: cfg.ReadCacheMaxStaleness})
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = rc.Check(ctx)
		cancel()
		switch {
		case errors.Is(err, model.ErrUnavailable):
			// Redis is not up yet: keep the cache; go-redis reads without it if the
			// server turns out to refuse tracking.
			log.Warn("read cache on, unchecked: Redis does not answer yet", "err", err)
			return rc, nil
		case err != nil:
			_ = rc.Close()
		}
	}
	if errors.Is(err, cache.ErrReadCacheUnsupported) {
		log.Warn("read cache off", "reason", err)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	log.Info("read cache on", "max_bytes", cfg.ReadCacheMaxBytes, "max_staleness", cfg.ReadCacheMaxStaleness.String())
	return rc, nil
}

// serve runs the service until ctx ends; invocation is how the user started it, for the
// banner's command lines.
func serve(ctx context.Context, cfg *config, log *slog.Logger, stdout io.Writer, invocation string) error {
	be, err := openRedis(cfg)
	if err != nil {
		return err
	}
	defer be.Close()
	if be.reads, err = openReadCache(cfg, log); err != nil {
		return err
	}
	if be.reads != nil && debug.SetMemoryLimit(-1) == math.MaxInt64 { // GOMEMLIMIT unset
		debug.SetMemoryLimit(readCacheMemoryLimit(cfg.ReadCacheMaxBytes))
	}
	bg, cancelBG := context.WithCancel(context.Background())
	defer cancelBG()
	tr, err := httpapi.NewTracing(ctx, cfg.OTLPEndpoint, cfg.OTelServiceName)
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tr.Shutdown(ctx); err != nil {
			log.Warn("flushing traces", "err", err)
		}
	}()
	svc, err := newService(cfg, be.rdb, be.reads, log, tr)
	if err != nil {
		return err
	}
	if err := svc.store.Ping(ctx); err != nil {
		// Not fatal: /readyz reports it and requests get UNAVAILABLE until Redis answers.
		log.Warn("redis does not answer yet", "err", err)
	} else if err := svc.store.LoadScripts(ctx); err != nil {
		// Not fatal either: each script is then sent whole on its first run.
		log.Warn("loading the scripts into redis", "err", err)
	}
	go svc.store.WatchKeyRevocations(bg, nil, svc.authz.Forget)
	go svc.store.RunRetention(bg, time.Minute)
	go svc.hub.Run(bg)
	// Deliveries stop before Redis closes, each letting go of its endpoint's lease, so
	// that another instance takes the endpoint over at once rather than after the lease.
	deliveries, stopDeliveries := context.WithCancel(bg)
	delivered := make(chan struct{})
	go func() { svc.webhooks.Run(deliveries); close(delivered) }()
	defer func() {
		stopDeliveries()
		select {
		case <-delivered:
		case <-time.After(5 * time.Second):
			log.Warn("webhook deliveries did not stop within 5s; their leases expire on their own")
		}
	}()

	// Requests (and the WebSockets they turn into) live in connCtx, which is cancelled
	// after Shutdown: hijacked connections are not Shutdown's to close.
	connCtx, cancelConns := context.WithCancel(context.Background())
	defer cancelConns()
	srv := &http.Server{
		Handler:           svc.handler,
		BaseContext:       func(net.Listener) context.Context { return connCtx },
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s (ADDR, or PORT): %w", cfg.Addr, err)
	}
	url := "http://" + displayAddr(ln.Addr())
	log.Info("listening", "addr", ln.Addr().String(), "graphiql", url+"/", "graphql", url+"/graphql")
	logPlaygroundSource(log, cfg)

	var key string
	if be.embedded != nil {
		if key, err = startDevelopment(ctx, svc.store, log); err != nil {
			return err
		}
		if svc.page != nil {
			svc.page.SetHeaders(bearer(key))
		}
	}
	tcp, _ := ln.Addr().(*net.TCPAddr)
	newBanner(cfg, url, tcp != nil && tcp.IP.IsLoopback(), key, invocation).write(stdout)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	// Subscriptions first, so their streams complete cleanly, then HTTP, then the
	// remaining connections; Redis and the embedded server close on return.
	_ = svc.hub.Close()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	cancelConns()
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// service is the wired application: the store, the event hub, the key checks and the
// HTTP handler.
type service struct {
	store   *cache.Store
	hub     *cache.Hub
	apq     *cache.APQ
	authz   *auth.Authorizer
	handler http.Handler
	page    *playground.Page // GraphiQL at /, nil when off
	// webhooks delivers events to the projects' webhook endpoints (Run starts it).
	webhooks *webhooks.Dispatcher
}

// keyRateLimit bounds the operations of each API key to perSecond across instances (nil
// when perSecond is 0: no limit). Requests without a valid key pass: the resolvers refuse
// them, and authenticateConnectSession, which needs none, has its per-address limit.
func keyRateLimit(store *cache.Store, authz *auth.Authorizer, perSecond int) func(context.Context) error {
	if perSecond <= 0 {
		return nil
	}
	limiter := store.NewLeasedLimiter(perSecond)
	return func(ctx context.Context) error {
		key, err := authz.Caller(ctx)
		if err != nil {
			return nil
		}
		ok, retry, err := limiter.Allow(ctx, key.ID)
		if err != nil {
			return err
		}
		if !ok {
			return &model.RateLimitError{RetryAfter: retry}
		}
		return nil
	}
}

// registerPersisted registers a persisted query against its caller's key's allowance
// (APQ_REGISTRATIONS_PER_HOUR). The handler calls it only for a caller with a key.
func registerPersisted(apq *cache.APQ, authz *auth.Authorizer) func(ctx context.Context, hash, query string) {
	return func(ctx context.Context, hash, query string) {
		if key, err := authz.Caller(ctx); err == nil {
			apq.Register(ctx, key.ID, hash, query)
		}
	}
}

// callerID names the verified key behind a context, for the per-key budgets.
func callerID(authz *auth.Authorizer) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		key, err := authz.Caller(ctx)
		if err != nil {
			return "", err
		}
		return key.ID, nil
	}
}

// newService wires the application over rdb, reading through reads where it can (nil:
// no read cache); tr (nil: off) traces it.
func newService(cfg *config, rdb redis.UniversalClient, reads *cache.ReadCache, log *slog.Logger, tr *httpapi.Tracing) (*service, error) {
	var m *httpapi.Metrics // made below, from the hub; the store reports to it only once serving
	store := cache.New(rdb, cache.Options{Prefix: cfg.RedisKeyPrefix, Retention: cfg.SessionRetention, Logger: log,
		JSONRecords: cfg.RecordFormat == "json", TokenPointers: cfg.TokenPointers, PerValueIndexes: cfg.PerValueIndexes, PageScanLimit: cfg.PageScanLimit,
		OnPageScan: func(s cache.PageScan) { m.PageScan(s) }, ReadCache: reads,
		EventRetention: cfg.EventRetention, EventLogMaxLength: cfg.EventLogMaxLength})
	hub := store.NewHub(cache.HubOptions{})
	apq := store.NewAPQ(cfg.APQTTL, cfg.QueryCacheBytes)
	apq.LimitRegistrations(cfg.APQRegistrations)
	m = httpapi.NewMetrics(hub, apq)
	rdb.AddHook(m.RedisHook())
	if reads != nil {
		reads.AddHook(m.RedisHook())
		m.WatchReadCache(reads)
	}
	m.WatchEventLogs(store)
	authz := auth.NewAuthorizer(store, auth.DefaultCacheTTL)
	dispatcher := webhooks.NewDispatcher(store, webhooks.Options{
		Client:   webhooks.NewClient(webhooks.ClientOptions{Policy: cfg.WebhookPolicy, Timeout: cfg.WebhookTimeout}),
		Timeout:  cfg.WebhookTimeout,
		Backoff:  webhooks.Backoff{Base: cfg.WebhookRetryBase, Max: cfg.WebhookRetryMaxDelay},
		RetryFor: cfg.WebhookRetryFor, Concurrency: cfg.WebhookConcurrency, PollInterval: cfg.WebhookPollInterval,
		Observer: m.Webhooks(), Logger: log,
	})
	m.WatchWebhooks(dispatcher)
	res := &resolvers.Resolver{
		Store: store, Events: hub, Auth: authz, AuthLinkBaseURL: cfg.AuthLinkBaseURL,
		Limiter: store.NewLimiter(), AuthenticatePerMinute: cfg.AuthenticateRate,
		Scans: resolvers.NewScanGate(resolvers.ScanOptions{Concurrency: cfg.TenantScans, UnitsPerSecond: cfg.TenantScanUnits}),
		Webhooks: &resolvers.Webhooks{Store: store, Policy: cfg.WebhookPolicy,
			MaxEndpoints: cfg.WebhookMaxEndpoints, MaxRedeliveries: cfg.WebhookMaxRedeliveries},
	}
	gate := httpapi.NewStreamGate(int64(cfg.MaxStreams), cfg.MaxPendingStreams, func(ctx context.Context) bool {
		_, err := authz.Caller(ctx)
		return err == nil
	})
	gql, err := httpapi.NewHandler(res, httpapi.HandlerOptions{
		Logger: log,
		WebSocketInit: func(ctx context.Context, payload map[string]any) (context.Context, error) {
			ctx, err := auth.FromInitPayload(ctx, payload)
			if err == nil {
				gate.Initialized(ctx)
			}
			return ctx, err
		},
		InitTimeout:          cfg.WSInitTimeout,
		AllowedOrigins:       cfg.CORSAllowedOrigins,
		PersistedQueries:     apq,
		RegisterPersisted:    registerPersisted(apq, authz),
		Observe:              m.Observe,
		DisableIntrospection: !cfg.Introspection,
		Limits:               cfg.Limits,
		QueryCacheBytes:      cfg.QueryCacheBytes,
		Tracer:               tr.Tracer(),
		Admit:                keyRateLimit(store, authz, cfg.APIKeyRate),
		OperationTimeout:     cfg.RequestTimeout,
		Budgets: httpapi.Budgets{
			SocketSubscriptions: cfg.WSMaxSubscriptions,
			KeySubscriptions:    cfg.APIKeyMaxSubscriptions,
			KeyConcurrent:       cfg.APIKeyMaxConcurrent,
			SocketIdle:          cfg.WSIdleTimeout,
			KeylessGrace:        cfg.WSKeylessGrace,
			Caller:              callerID(authz),
			SocketClosed:        m.SocketClosed,
		},
	})
	if err != nil {
		return nil, err
	}
	m.WatchStreams(gate)
	page := newPlayground(cfg)
	h, err := tr.Instrument(httpapi.Routes(cfg.routeOptions(), gate.Limit(gql), store, page, m.Handler(), log), rdb)
	if err != nil {
		return nil, err
	}
	return &service{store: store, hub: hub, apq: apq, authz: authz, page: page, handler: h, webhooks: dispatcher}, nil
}

// displayAddr makes a listen address clickable: the wildcard host becomes localhost.
func displayAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || tcp.IP.IsUnspecified() {
		if ok {
			return fmt.Sprintf("localhost:%d", tcp.Port)
		}
	}
	return a.String()
}
