package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// scrape reads one sample of /metrics: name with its labels as Prometheus prints them,
// such as `connectsession_websockets_closed_total{reason="idle"}`; 0 when absent.
func (s *testServer) scrape(t *testing.T, sample string) float64 {
	t.Helper()
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %v", sample, err)
			}
			return f
		}
	}
	return 0
}

// pollUntil polls cond until it holds, failing the test with what it last saw after 10s.
func pollUntil(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	pollWithin(t, 10*time.Second, what, cond)
}

// pollWithin is pollUntil with a deadline of its own.
func pollWithin(t *testing.T, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, seen := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %s after %s", what, seen, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// scrapeIs waits until a sample of /metrics reads want.
func (s *testServer) scrapeIs(t *testing.T, sample string, want float64) {
	t.Helper()
	pollUntil(t, fmt.Sprintf("%s = %v", sample, want), func() (bool, string) {
		got := s.scrape(t, sample)
		return got == want, fmt.Sprint(got)
	})
}

// activeSubscriptions waits until the instance holds n subscriptions.
func (s *testServer) activeSubscriptions(t *testing.T, n int) {
	t.Helper()
	s.scrapeIs(t, "connectsession_subscriptions_active", float64(n))
}

// closed waits for the server to close c and returns the close status and reason.
func (c *wsClient) closed() (websocket.StatusCode, string) {
	c.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-c.msgs:
			if ok {
				continue
			}
			var ce websocket.CloseError
			if errors.As(c.readErr, &ce) {
				return ce.Code, ce.Reason
			}
			return websocket.CloseStatus(c.readErr), fmt.Sprint(c.readErr)
		case <-deadline:
			c.t.Fatalf("the server did not close the socket within 10s")
		}
	}
}

// dialRaw opens a WebSocket to /graphql without the init handshake.
func dialRaw(t *testing.T, s *testServer, protocol string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.url, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{protocol}})
	if conn != nil {
		t.Cleanup(func() { _ = conn.CloseNow() })
	}
	return conn, resp, err
}
