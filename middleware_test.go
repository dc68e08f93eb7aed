package main

import (
	"context"
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
	for _, hdr := range []map[string]string{{"Accept": "text/event-stream"}, {"Upgrade": "websocket"}} {
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

func TestCORS(t *testing.T) {
	s := startServer(t, map[string]string{"CORS_ALLOWED_ORIGINS": "https://app.example.com"})
	for origin, allowed := range map[string]bool{"https://app.example.com": true, "https://evil.example": false} {
		req, _ := http.NewRequest(http.MethodOptions, s.url+"/graphql", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin") == origin; got != allowed {
			t.Errorf("preflight from %s: allowed %v, want %v (headers %v)", origin, got, allowed, resp.Header)
		}
	}
}
