package httpapi

import (
	"bufio"
	"container/list"
	"context"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
)

// StreamGate caps the long-lived requests one instance holds at once: WebSockets and
// SSE streams. Each holds a connection, a few goroutines and buffers for as long as the
// client likes, so their number, unlike that of ordinary requests, is not bounded by
// REQUEST_TIMEOUT.
//
// A stream is pending until a valid API key is seen: in the request's Authorization
// header (SSE, or a WebSocket upgrade that sends one), or in the WebSocket's
// connection_init. Pending streams share a small part of the capacity (maxPending), so
// that callers without a key, who need no socket for anything, cannot take every
// place: 5,000 keyless sockets opened in about a second used to lock every tenant out.
type StreamGate struct {
	max        int64 // 0: no limit
	maxPending int   // 0: pending streams are bounded by max alone
	// keyed reports whether ctx carries a valid API key.
	keyed func(ctx context.Context) bool

	open      atomic.Int64
	refused   atomic.Int64
	displaced atomic.Int64

	mu      sync.Mutex
	pending list.List // of *stream, oldest first
}

// stream is one admitted stream, pending while elem is set (guarded by the gate's mu).
// NewStreamGate returns a gate that admits at most max streams at once (0: no limit), at
// most maxPending of them without a valid key yet (0: bounded by max alone); keyed
// reports whether a context carries a valid key.
func NewStreamGate(max int64, maxPending int, keyed func(ctx context.Context) bool) *StreamGate {
	return &StreamGate{max: max, maxPending: maxPending, keyed: keyed}
}

type stream struct {
	elem *list.Element
	conn net.Conn // the hijacked connection of a WebSocket, once upgraded
}

type streamKey struct{}

// streamRetryAfter is what a refused client is told to wait, in seconds.
const streamRetryAfter = 5

// Limit admits a stream while fewer than max are open, else answers 503
// CONNECTION_LIMIT_EXCEEDED before any upgrade, so nothing is left running. A stream
// without a valid key also needs a pending place; when they are all taken, the oldest
// pending WebSocket is dropped for it (a client that has a key sends it at once, so the
// oldest is the likeliest to have none), and only when none can be dropped is it
// refused. Ordinary requests pass uncounted.
func (g *StreamGate) Limit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isStream(r) {
			next.ServeHTTP(w, r)
			return
		}
		if n := g.open.Add(1); g.max > 0 && n > g.max {
			g.open.Add(-1)
			g.refuse(w, r, "this instance holds as many WebSockets and event streams as it may ("+strconv.FormatInt(g.max, 10)+
				"); retry shortly")
			return
		}
		// A WebSocket's handler returns when the socket closes, an SSE stream's when it ends.
		defer g.open.Add(-1)
		s := &stream{}
		if g.maxPending > 0 && (g.keyed == nil || !g.keyed(r.Context())) {
			if !g.admitPending(s) {
				g.refuse(w, r, "this instance holds as many streams without a valid API key as it may ("+
					strconv.Itoa(g.maxPending)+"); send the key in the Authorization header, or retry shortly")
				return
			}
			defer g.settle(s)
			w = &hijackWatcher{ResponseWriter: w, g: g, s: s}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), streamKey{}, s)))
	})
}

// CodeConnectionLimit refuses a WebSocket or SSE stream over MAX_STREAMS or
// MAX_PENDING_STREAMS (HTTP 503, before any upgrade).
const CodeConnectionLimit = "CONNECTION_LIMIT_EXCEEDED"

func (g *StreamGate) refuse(w http.ResponseWriter, r *http.Request, message string) {
	g.refused.Add(1)
	w.Header().Set("Retry-After", strconv.Itoa(streamRetryAfter))
	writeError(w, r, http.StatusServiceUnavailable, CodeConnectionLimit, message)
}

// admitPending books a pending place for s, dropping the oldest pending WebSocket when
// they are all taken; false when none could be dropped.
func (g *StreamGate) admitPending(s *stream) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.pending.Len() >= g.maxPending {
		var victim *stream
		for e := g.pending.Front(); e != nil; e = e.Next() {
			if p := e.Value.(*stream); p.conn != nil {
				victim = p
				break
			}
		}
		if victim == nil {
			return false
		}
		g.pending.Remove(victim.elem)
		victim.elem = nil
		// Closing the connection ends the socket's handler, which gives its place back.
		_ = victim.conn.Close()
		g.displaced.Add(1)
	}
	s.elem = g.pending.PushBack(s)
	return true
}

func (g *StreamGate) pendingLen() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.pending.Len()
}

// settle gives back s's pending place, if it still holds one.
func (g *StreamGate) settle(s *stream) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if s.elem != nil {
		g.pending.Remove(s.elem)
		s.elem = nil
	}
}

// Initialized is told of each WebSocket's accepted connection_init, with the context
// the payload's credential is in: a socket with a valid key stops being pending.
func (g *StreamGate) Initialized(ctx context.Context) {
	s, _ := ctx.Value(streamKey{}).(*stream)
	if s == nil || g.keyed == nil || !g.keyed(ctx) {
		return
	}
	g.settle(s)
}

// hijackWatcher keeps the connection a pending WebSocket's upgrade hijacks, so that the
// gate can drop the socket. It keeps the writer's other powers (flushing for SSE).
type hijackWatcher struct {
	http.ResponseWriter
	g *StreamGate
	s *stream
}

func (w *hijackWatcher) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *hijackWatcher) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *hijackWatcher) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.g.mu.Lock()
		w.s.conn = conn
		w.g.mu.Unlock()
	}
	return conn, rw, err
}
