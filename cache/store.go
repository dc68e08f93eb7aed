package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"connectsession/graph/model"
)

// Options configure a Store. The zero value of each field picks its default.
type Options struct {
	// Prefix starts every key (default "cs"), so deployments and tests can share a Redis.
	Prefix string
	// Retention is how long an expired session is kept before it is removed (default 720h).
	Retention time.Duration
	// Now is the clock (default time.Now); tests replace it.
	Now func() time.Time
	// Logger receives what the store cannot report to a caller (default: discard).
	Logger *slog.Logger
	// JSONRecords makes the store write records in the JSON form instead of the binary
	// one (record_bin.go). Both are always read; set it while instances of a version
	// that reads only JSON still run against the same Redis.
	JSONRecords bool
}

// DefaultRetention is how long an expired session is kept unless Options say otherwise.
const DefaultRetention = 30 * 24 * time.Hour

// Store keeps connect sessions in Redis. It is safe for concurrent use.
type Store struct {
	rdb       redis.UniversalClient
	k         keys
	retention time.Duration
	now       func() time.Time
	log       *slog.Logger
	// sharded is true on a Redis Cluster: events use sharded pub/sub (SPUBLISH).
	sharded bool
	// jsonRecords: write records as JSON (Options.JSONRecords).
	jsonRecords bool
}

// encode returns the record as the store writes it.
func (s *Store) encode(r *record) string {
	if s.jsonRecords {
		return r.encodeJSON()
	}
	return r.encodeBinary()
}

// New returns a Store over rdb; it does not contact Redis.
func New(rdb redis.UniversalClient, opts Options) *Store {
	if opts.Prefix == "" {
		opts.Prefix = "cs"
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	_, sharded := rdb.(*redis.ClusterClient)
	return &Store{rdb: rdb, k: keys{prefix: opts.Prefix}, retention: opts.Retention, now: opts.Now, log: opts.Logger, sharded: sharded, jsonRecords: opts.JSONRecords}
}

// Ping checks that Redis answers; it returns an error wrapping model.ErrUnavailable when
// it does not.
func (s *Store) Ping(ctx context.Context) error {
	return storeErr("ping", s.rdb.Ping(ctx).Err())
}

// storeErr wraps a Redis error for the layers above: connection-level failures (and
// replies that mean the server cannot serve right now) wrap model.ErrUnavailable; other
// server replies stay internal errors.
func storeErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if unavailable(err) {
		return fmt.Errorf("cache: %s: %w: %w", op, model.ErrUnavailable, err)
	}
	return fmt.Errorf("cache: %s: %w", op, err)
}

var transientReplies = []string{"LOADING", "CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN", "READONLY", "BUSY", "NOREPLICAS"}

func unavailable(err error) bool {
	var rerr redis.Error
	if errors.As(err, &rerr) && !errors.Is(err, redis.ErrClosed) {
		msg := rerr.Error()
		for _, p := range transientReplies {
			if strings.HasPrefix(msg, p) {
				return true
			}
		}
		// A script that reached a key its node no longer holds (a cluster slot moving):
		// the guard key makes this rare, but the answer is the same, try again.
		return strings.Contains(msg, "non local key") || strings.Contains(msg, "TRYAGAIN")
	}
	// Everything else is the connection: refused, reset, timed out, pool exhausted,
	// client closed, or the caller's deadline.
	return true
}
