package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRequestDeadline(t *testing.T) {
	var got time.Duration
	var had bool
	h := limitRequests(1<<20, 250*time.Millisecond, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var dl time.Time
		dl, had = r.Context().Deadline()
		got = time.Until(dl)
		<-r.Context().Done()
		if r.Context().Err() != context.DeadlineExceeded {
			t.Errorf("ctx ended with %v, want the deadline", r.Context().Err())
		}
	}))
	start := time.Now()
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ __typename }"}`))
	h.ServeHTTP(httptest.NewRecorder(), req)
	if !had || got > 250*time.Millisecond || time.Since(start) > 2*time.Second {
		t.Errorf("deadline: had %v, %v left, request took %v", had, got, time.Since(start))
	}

	// Streams (SSE, WebSocket) live as long as their client: no deadline.
	for _, hdr := range []map[string]string{{"Accept": "text/event-stream", "Content-Type": "application/json"}, {"Upgrade": "websocket"}} {
		h := limitRequests(1<<20, 250*time.Millisecond, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, ok := r.Context().Deadline(); ok {
				t.Errorf("%v: a stream got a deadline", hdr)
			}
		}))
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{}`))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
}

// Lines logged with a request's context carry its id, the one returned in X-Request-Id,
// so that an error in the log leads to the request and back.
func TestLogLinesCarryTheRequestID(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(WithRequestIDs(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	h := accessLog(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.WarnContext(r.Context(), "store unavailable")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/graphql", nil))
	id := rec.Header().Get("X-Request-Id")
	var lines []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("log line %s: %v", l, err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 2 || lines[0]["msg"] != "store unavailable" || lines[1]["msg"] != "request" {
		t.Fatalf("log lines: %v", lines)
	}
	if lines[0]["request_id"] != id || id == "" {
		t.Errorf("error line: request_id %v, want %q", lines[0]["request_id"], id)
	}
	if lines[1]["id"] != id || lines[1]["request_id"] != nil {
		t.Errorf("access line: %v, want id %q once", lines[1], id)
	}
}
