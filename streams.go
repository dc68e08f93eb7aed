package main

import (
	"net/http"
	"strconv"
	"sync/atomic"
)

// streamGate caps the long-lived requests one instance holds at once: WebSockets and
// SSE streams. Each holds a connection, a few goroutines and buffers for as long as the
// client likes, so their number, unlike that of ordinary requests, is not bounded by
// REQUEST_TIMEOUT.
type streamGate struct {
	max     int64 // 0: no limit
	open    atomic.Int64
	refused atomic.Int64
}

// streamRetryAfter is what a refused client is told to wait, in seconds.
const streamRetryAfter = 5

// limit admits a stream while fewer than max are open, else answers 503
// CONNECTION_LIMIT_EXCEEDED before any upgrade, so nothing is left running. Ordinary
// requests pass uncounted.
func (g *streamGate) limit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isStream(r) {
			next.ServeHTTP(w, r)
			return
		}
		if n := g.open.Add(1); g.max > 0 && n > g.max {
			g.open.Add(-1)
			g.refused.Add(1)
			w.Header().Set("Retry-After", strconv.Itoa(streamRetryAfter))
			writeError(w, http.StatusServiceUnavailable, "CONNECTION_LIMIT_EXCEEDED",
				"this instance holds as many WebSockets and event streams as it may ("+strconv.FormatInt(g.max, 10)+
					"); retry shortly")
			return
		}
		// A WebSocket's handler returns when the socket closes, an SSE stream's when it ends.
		defer g.open.Add(-1)
		next.ServeHTTP(w, r)
	})
}
