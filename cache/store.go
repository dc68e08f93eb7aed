package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"connectsession/graph/model"
)

// Options configure a Store. The zero value of each field picks its default.
type Options struct {
	// Prefix starts every key (default DefaultPrefix; the rate limiters' keys put "rate:"
	// before it), so deployments and tests can share a Redis.
	Prefix string
	// Retention is how long an expired session is kept before it is removed (default
	// DefaultRetention).
	Retention time.Duration
	// Now is the clock (default time.Now); tests replace it.
	Now func() time.Time
	// Logger receives what the store cannot report to a caller (default: discard).
	Logger *slog.Logger
	// JSONRecords makes the store write records in the JSON form instead of the binary
	// one (record_bin.go). Both are always read; set it while instances of a version
	// that reads only JSON still run against the same Redis.
	JSONRecords bool
	// TokenPointers makes the store write a token pointer (keys.token) for each new
	// session, as versions that authenticate only through it need. Without it, tokens
	// that carry their session's id are authenticated by id alone; pointers already
	// written are still moved by updates, removed by revokes and deletes, and used for
	// tokens of the old form (no id in them). Set it while instances older than
	// authentication by id still run against the same Redis.
	TokenPointers bool
	// PerValueIndexes makes the store index a new originOwnerId or accountId value in
	// keys of its own (ix:o:<value>, ix:a:<value>), as versions before the value-ordered
	// indexes do, instead of in the tenant's value-ordered index of the field (see
	// keys.go). Both are always read, and every write puts a value's entries where they
	// already are; without it, the first write to a value whose own index holds at most
	// 64 entries moves them into the value-ordered index. Set it while instances that
	// read only keys of their own still run against the same Redis.
	PerValueIndexes bool
	// PageScanLimit is the work budget of one page call (see lua/page.lua): the most index
	// entries it examines, across the page, the look-up on the cursor's other side and
	// the count (default DefaultPageScanLimit; at least MinPageScanLimit).
	PageScanLimit int
	// OnPageScan, when set, is told what each page call spent (for metrics and tests).
	OnPageScan func(PageScan)
	// ReadCache, when set, serves Get and GetMany from process memory where it can (see
	// ReadCache); it must reach the same Redis as the store's client.
	ReadCache *ReadCache
	// EventRetention is how long a tenant's event log keeps an event (default
	// DefaultEventRetention); EventLogMaxLength the most events it keeps (default
	// DefaultEventLogMaxLength). See eventlog.go.
	EventRetention    time.Duration
	EventLogMaxLength int
}

// PageScan is what one page call spent of its work budget.
type PageScan struct {
	// Examined is the units of work spent: entries of the walked index examined, plus
	// look-ups in the other indexes of a combined filter, plus chunks counted whole.
	Examined int
	// Cut is true when the page walk stopped for the budget (the page may be short).
	Cut bool
	// CountCut is true when the count stopped for the budget (it is a lower bound).
	CountCut bool
}

// DefaultPageScanLimit keeps one page call within a few milliseconds of Redis time at
// any tenant size and filter combination (2 to 3.5 µs a unit on a busy 2-core host,
// measured with bench/scancost; see bench/README.md, "Noisy neighbour"), far above what
// a page of 100 with one filter needs (about 100 units).
const DefaultPageScanLimit = 1000

// MinPageScanLimit is the smallest budget a store uses (a smaller one is raised to it):
// enough that every walk can examine an entry with all five filters. Budgets this small
// cut even well-behaved pages short, which tests use; the service's setting asks for
// at least 500, so that a page of 100 with one filter and its count is never cut.
const MinPageScanLimit = 16

// DefaultRetention is how long an expired session is kept unless Options say otherwise.
const DefaultRetention = 30 * 24 * time.Hour

// DefaultPrefix starts every key unless Options say otherwise.
const DefaultPrefix = "cs"

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
	// tokenPointers: write token pointers for new sessions (Options.TokenPointers).
	tokenPointers bool
	// layout is the scripts' layout argument: "p" with Options.PerValueIndexes, else "".
	layout string
	// scanLimit is the work budget of one page call (Options.PageScanLimit).
	scanLimit  int
	onPageScan func(PageScan)
	// eventRetention and eventLogMax bound each tenant's event log; loggedEvents is
	// how many events the logs held at the end of the last whole sweep (-1: none yet).
	eventRetention time.Duration
	eventLogMax    int
	loggedEvents   atomic.Int64
	// cached is the read cache (nil without one); reads is the client Get and GetMany
	// use: the read cache's, or rdb.
	cached *ReadCache
	reads  redis.Cmdable
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
		opts.Prefix = DefaultPrefix
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
	if opts.PageScanLimit == 0 {
		opts.PageScanLimit = DefaultPageScanLimit
	}
	opts.PageScanLimit = max(opts.PageScanLimit, MinPageScanLimit)
	if opts.EventRetention <= 0 {
		opts.EventRetention = DefaultEventRetention
	}
	if opts.EventLogMaxLength <= 0 {
		opts.EventLogMaxLength = DefaultEventLogMaxLength
	}
	_, sharded := rdb.(*redis.ClusterClient)
	s := &Store{rdb: rdb, k: keys{prefix: opts.Prefix}, retention: opts.Retention, now: opts.Now, log: opts.Logger, sharded: sharded,
		jsonRecords: opts.JSONRecords, tokenPointers: opts.TokenPointers, scanLimit: opts.PageScanLimit, onPageScan: opts.OnPageScan, reads: rdb,
		eventRetention: opts.EventRetention, eventLogMax: opts.EventLogMaxLength}
	if opts.PerValueIndexes {
		s.layout = "p"
	}
	if opts.ReadCache != nil {
		s.cached, s.reads = opts.ReadCache, opts.ReadCache.rdb
	}
	s.loggedEvents.Store(-1)
	return s
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
