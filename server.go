// Command connectsession serves the ConnectSession GraphQL API over Redis.
//
//	go run .                  serve (embedded in-memory Redis unless REDIS_URL is set)
//	go run . -help            list the settings
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"connectsession/auth"
	"connectsession/cache"
	"connectsession/resolvers"
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
// environment and output, so tests run it the same way.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	name, rest := "connectsession", []string(nil)
	if len(args) > 0 {
		name, rest = args[0], args[1:]
	}
	if len(rest) > 0 && rest[0] == "apikey" {
		return runAPIKey(ctx, name+" apikey", rest[1:], getenv, stdout, stderr)
	}
	cfg, err := parseConfig(name, rest, getenv, stderr)
	if err != nil {
		return err
	}
	log := cfg.logger(stderr)
	return serve(ctx, cfg, log, stdout)
}

// backend is the Redis the service runs on and how to let go of it.
type backend struct {
	rdb      redis.UniversalClient
	embedded *cache.Embedded
}

func (b *backend) Close() {
	_ = b.rdb.Close()
	if b.embedded != nil {
		b.embedded.Close()
	}
}

// openRedis connects to the configured Redis, or starts the embedded one.
func openRedis(cfg *config) (*backend, error) {
	switch {
	case len(cfg.RedisClusterAddrs) > 0:
		return &backend{rdb: redis.NewClusterClient(&redis.ClusterOptions{Addrs: cfg.RedisClusterAddrs})}, nil
	case cfg.RedisURL != "":
		opts, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		return &backend{rdb: redis.NewClient(opts)}, nil
	default:
		e, err := cache.StartEmbedded(time.Second)
		if err != nil {
			return nil, err
		}
		return &backend{rdb: redis.NewClient(&redis.Options{Addr: e.Addr()}), embedded: e}, nil
	}
}

func serve(ctx context.Context, cfg *config, log *slog.Logger, stdout io.Writer) error {
	be, err := openRedis(cfg)
	if err != nil {
		return err
	}
	defer be.Close()
	bg, cancelBG := context.WithCancel(context.Background())
	defer cancelBG()
	svc := newService(cfg, be.rdb, log)
	if err := svc.store.Ping(ctx); err != nil {
		// Not fatal: /readyz reports it and requests get UNAVAILABLE until Redis answers.
		log.Warn("redis does not answer yet", "err", err)
	}
	go svc.store.WatchKeyRevocations(bg, nil, svc.authz.Forget)
	go svc.store.RunRetention(bg, time.Minute)

	srv := &http.Server{
		Handler:           svc.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	url := "http://" + displayAddr(ln.Addr())
	log.Info("listening", "addr", ln.Addr().String(), "graphiql", url+"/", "graphql", url+"/graphql")

	if be.embedded != nil {
		if err := startDevelopment(ctx, svc.store, url, log, stdout); err != nil {
			return err
		}
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// service is the wired application: the store, the key checks and the HTTP handler.
type service struct {
	store   *cache.Store
	authz   *auth.Authorizer
	handler http.Handler
}

func newService(cfg *config, rdb redis.UniversalClient, log *slog.Logger) *service {
	store := cache.New(rdb, cache.Options{Prefix: cfg.RedisKeyPrefix, Retention: cfg.SessionRetention, Logger: log})
	authz := auth.NewAuthorizer(store, auth.DefaultCacheTTL)
	res := &resolvers.Resolver{Store: store, Auth: authz, AuthLinkBaseURL: cfg.AuthLinkBaseURL}
	gql := resolvers.NewHandler(res, resolvers.HandlerOptions{Logger: log})
	return &service{store: store, authz: authz, handler: routes(cfg, auth.Middleware(gql), store)}
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
