package httpapi

import (
	"context"
	"fmt"
	"sync"
	"time"

	"connectsession/resolvers"
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// CodeSubscriptionLimit refuses a subscription beyond what one WebSocket or one API key
// may hold open at once.
const CodeSubscriptionLimit = "SUBSCRIPTION_LIMIT_EXCEEDED"

// Budgets bound what callers hold at once on this instance, the capacity that every key
// shares: subscriptions per WebSocket and per API key, queries and mutations in flight
// per key, and how long a WebSocket may stay open with nothing to do. A zero field is no
// limit.
type Budgets struct {
	// SocketSubscriptions is the most subscriptions one WebSocket may hold open.
	SocketSubscriptions int
	// KeySubscriptions is the most subscriptions one API key may hold open on this
	// instance, over all its WebSockets and SSE streams.
	KeySubscriptions int
	// KeyConcurrent is the most queries and mutations of one API key in flight at once
	// on this instance; beyond it operations are refused with RATE_LIMITED before they
	// run.
	KeyConcurrent int
	// SocketIdle closes a WebSocket that has had no operation in flight for this long.
	// Keep-alive pings are not operations.
	SocketIdle time.Duration
	// KeylessGrace closes a WebSocket this long after its connection_init when neither
	// the payload nor the upgrade request carried a valid API key: it can subscribe to
	// nothing, but its client still gets the UNAUTHENTICATED answers the contract
	// promises before it goes.
	KeylessGrace time.Duration
	// Caller names the verified API key behind ctx (its id), or fails when there is none,
	// it is not valid, or it cannot be checked now. Without it the per-key budgets and
	// KeylessGrace are off.
	Caller func(ctx context.Context) (string, error)
	// SocketClosed, when set, is told of each WebSocket these budgets close: reason
	// "idle" or "keyless".
	SocketClosed func(reason string)
}

// ledger counts what each key and each WebSocket holds against the Budgets.
type ledger struct {
	b    Budgets
	mu   sync.Mutex
	subs map[string]int // key id -> open subscriptions
	ops  map[string]int // key id -> queries and mutations in flight
}

func newLedger(b Budgets) *ledger {
	if b.Caller == nil {
		b.KeySubscriptions, b.KeyConcurrent, b.KeylessGrace = 0, 0, 0
	}
	return &ledger{b: b, subs: map[string]int{}, ops: map[string]int{}}
}

// sockets reports whether WebSockets need watching at all.
func (l *ledger) sockets() bool {
	return l.b.SocketSubscriptions > 0 || l.b.SocketIdle > 0 || l.b.KeylessGrace > 0
}

// operations reports whether operations need counting at all.
func (l *ledger) operations() bool {
	return l.sockets() || l.b.KeySubscriptions > 0 || l.b.KeyConcurrent > 0
}

// take books one operation against its WebSocket (when it came over one) and its key,
// or refuses it; release gives back what was booked, exactly once.
func (l *ledger) take(ctx context.Context, subscription bool) (release func(), err error) {
	sock := socketFrom(ctx)
	key := ""
	if (subscription && l.b.KeySubscriptions > 0) || (!subscription && l.b.KeyConcurrent > 0) {
		// A caller without a valid key holds nothing: its operation is refused by the
		// resolvers (or is authenticateConnectSession, limited per address).
		key, _ = l.b.Caller(ctx)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if subscription {
		if sock != nil && l.b.SocketSubscriptions > 0 && sock.subs >= l.b.SocketSubscriptions {
			return nil, limitError(CodeSubscriptionLimit, fmt.Sprintf("this WebSocket already holds %d subscriptions, "+
				"the most one connection may; complete one before starting another", l.b.SocketSubscriptions), l.b.SocketSubscriptions)
		}
		if key != "" && l.subs[key] >= l.b.KeySubscriptions {
			return nil, limitError(CodeSubscriptionLimit, fmt.Sprintf("this API key already holds %d subscriptions on "+
				"this instance, the most it may; complete one before starting another", l.b.KeySubscriptions), l.b.KeySubscriptions)
		}
	} else if key != "" && l.ops[key] >= l.b.KeyConcurrent {
		e := limitError(resolvers.CodeRateLimited, fmt.Sprintf("this API key already has %d operations in flight on this "+
			"instance, the most it may run at once; retry shortly", l.b.KeyConcurrent), l.b.KeyConcurrent)
		e.Extensions["retryAfter"] = 1
		return nil, e
	}
	counts := l.ops
	if subscription {
		counts = l.subs
	}
	if key != "" {
		counts[key]++
	}
	if sock != nil {
		sock.begin(subscription)
	}
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if key != "" {
			if counts[key]--; counts[key] <= 0 {
				delete(counts, key) // the maps hold only keys with something open
			}
		}
		if sock != nil {
			sock.finish(subscription)
		}
	}, nil
}

func limitError(code, message string, limit int) *gqlerror.Error {
	return &gqlerror.Error{Message: message, Extensions: map[string]any{"code": code, "limit": limit}}
}

// around books every operation with the ledger before it runs and releases it when it is
// over: a query or mutation once its response is ready, a subscription when its context
// ends (the transports end it on completion, on error, on panic and when the client
// goes). Refusals answer as admit's do.
func (l *ledger) around(present graphql.ErrorPresenterFunc,
	report func(ctx context.Context, operation, code string, took time.Duration)) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		if !graphql.HasOperationContext(ctx) {
			return next(ctx)
		}
		op := graphql.GetOperationContext(ctx).Operation
		if op == nil {
			return next(ctx)
		}
		subscription := op.Operation == ast.Subscription
		release, err := l.take(ctx, subscription)
		if err != nil {
			return refuse(ctx, err, present, report)
		}
		var once sync.Once
		done := func() { once.Do(release) }
		// The fallback for every path that skips the release below (a panic in next, a
		// response handler never called): the operation's context always ends.
		stop := context.AfterFunc(ctx, done)
		if subscription {
			return next(ctx)
		}
		h := next(ctx)
		return func(ctx context.Context) *graphql.Response {
			defer func() {
				stop()
				done()
			}()
			return h(ctx)
		}
	}
}
