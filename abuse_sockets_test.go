package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

var eventsVars = map[string]any{"org": 1, "project": "demo"}

// The attack of 20,000 subscriptions on one socket: past WS_MAX_SUBSCRIPTIONS each one
// is answered SUBSCRIPTION_LIMIT_EXCEEDED and completed, and holds nothing: the
// instance's subscriptions and goroutines stay where the cap puts them.
func TestAbuseSubscriptionsPerSocket(t *testing.T) {
	s := startServer(t, map[string]string{"WS_MAX_SUBSCRIPTIONS": "5"})
	key := s.devKey(t)
	c := dialWS(t, s, protoTransportWS, nil, map[string]any{"Authorization": "Bearer " + key})
	for i := range 5 {
		c.subscribe(strconv.Itoa(i), eventsSubscription, eventsVars)
	}
	s.activeSubscriptions(t, 5)
	before := runtime.NumGoroutine()

	const attack = 500 // each would hold two goroutines if accepted
	for i := range attack {
		c.subscribe("x"+strconv.Itoa(i), eventsSubscription, eventsVars)
	}
	// Each is answered by its own goroutine, so the answers come in any order.
	refused, completed := map[string]bool{}, map[string]bool{}
	for len(completed) < attack {
		m := c.next()
		if !strings.HasPrefix(m.ID, "x") {
			t.Fatalf("message of a subscription within the cap: %+v", m)
		}
		if m.Type == "complete" {
			completed[m.ID] = true
			continue
		}
		if e := c.parse(m, m.ID); e.Code != "SUBSCRIPTION_LIMIT_EXCEEDED" {
			t.Fatalf("subscription %s past the cap: %+v, want SUBSCRIPTION_LIMIT_EXCEEDED", m.ID, e)
		}
		refused[m.ID] = true
	}
	if len(refused) != attack {
		t.Fatalf("%d refusals for %d subscriptions past the cap", len(refused), attack)
	}
	s.activeSubscriptions(t, 5)
	pollUntil(t, "goroutines back to where they were", func() (bool, string) {
		n := runtime.NumGoroutine()
		return n <= before+20, fmt.Sprintf("%d (before: %d)", n, before)
	})
	s.scrapeIs(t, `connectsession_graphql_operations_total{code="SUBSCRIPTION_LIMIT_EXCEEDED",operation="connectSessionEvents"}`, attack)

	// Completing one frees its place.
	c.stop("0")
	s.activeSubscriptions(t, 4)
	c.subscribe("again", eventsSubscription, eventsVars)
	s.activeSubscriptions(t, 5)
}

// API_KEY_MAX_SUBSCRIPTIONS holds across all of a key's sockets and SSE streams on an
// instance; other keys keep subscribing; a closed socket gives its subscriptions back.
func TestAbuseSubscriptionsPerKey(t *testing.T) {
	r := newSharedRedis(t)
	key, err := r.apikey(t, "create", "-org", "1", "-role", "read")
	if err != nil {
		t.Fatal(err)
	}
	other, err := r.apikey(t, "create", "-org", "1", "-role", "read")
	if err != nil {
		t.Fatal(err)
	}
	env := r.env()
	env["API_KEY_MAX_SUBSCRIPTIONS"] = "3"
	s := startServer(t, env)
	bearer := map[string]any{"Authorization": "Bearer " + key}

	a := dialWS(t, s, protoTransportWS, nil, bearer)
	a.subscribe("a1", eventsSubscription, eventsVars)
	a.subscribe("a2", eventsSubscription, eventsVars)
	b := dialWS(t, s, protoGraphQLWS, nil, bearer)
	b.subscribe("b1", eventsSubscription, eventsVars)
	s.activeSubscriptions(t, 3)

	b.subscribe("b2", eventsSubscription, eventsVars)
	if e := b.nextEvent("b2"); e.Code != "SUBSCRIPTION_LIMIT_EXCEEDED" {
		t.Fatalf("4th subscription of the key, on another socket: %+v", e)
	}
	if e := subscribeSSE(t, s, "Bearer "+key, eventsVars).next(t); e.Code != "SUBSCRIPTION_LIMIT_EXCEEDED" {
		t.Fatalf("4th subscription of the key, over SSE: %+v", e)
	}
	o := dialWS(t, s, protoTransportWS, nil, map[string]any{"Authorization": "Bearer " + other})
	o.subscribe("o1", eventsSubscription, eventsVars)
	s.activeSubscriptions(t, 4)

	// Closing socket a releases its two.
	_ = a.conn.Close(websocket.StatusNormalClosure, "")
	s.activeSubscriptions(t, 2)
	b.subscribe("b3", eventsSubscription, eventsVars)
	sse := subscribeSSE(t, s, "Bearer "+key, eventsVars)
	s.activeSubscriptions(t, 4)
	b.subscribe("b4", eventsSubscription, eventsVars)
	if e := b.nextEvent("b4"); e.Code != "SUBSCRIPTION_LIMIT_EXCEEDED" {
		t.Fatalf("the key at its cap again: %+v", e)
	}
	// An SSE stream's end gives its place back too.
	_ = sse.resp.Body.Close()
	s.activeSubscriptions(t, 3)
	b.subscribe("b5", eventsSubscription, eventsVars)
	s.activeSubscriptions(t, 4)
}

// MAX_STREAMS bounds the WebSockets and SSE streams open on an instance: past it the
// upgrade (or the stream) is refused with 503 before anything starts, and a closed
// socket frees its place.
func TestAbuseStreamsPerInstance(t *testing.T) {
	s := startServer(t, map[string]string{"MAX_STREAMS": "2"})
	key := s.devKey(t)
	bearer := map[string]any{"Authorization": "Bearer " + key}
	first := dialWS(t, s, protoTransportWS, nil, bearer)
	dialWS(t, s, protoTransportWS, nil, bearer)

	before := runtime.NumGoroutine()
	for range 50 {
		_, resp, err := dialRaw(t, s, protoTransportWS)
		if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("third socket: err %v, response %+v, want 503", err, resp)
		}
		var body gqlResponse
		raw, _ := io.ReadAll(resp.Body)
		if json.Unmarshal(raw, &body) != nil || body.code() != "CONNECTION_LIMIT_EXCEEDED" || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("refusal body %s (Retry-After %q), want CONNECTION_LIMIT_EXCEEDED", raw, resp.Header.Get("Retry-After"))
		}
	}
	body, _ := json.Marshal(map[string]any{"query": eventsSubscription, "variables": eventsVars})
	req, _ := http.NewRequest(http.MethodPost, s.url+"/graphql", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("SSE stream past the cap: %v %+v, want 503", err, resp)
	}
	resp.Body.Close()
	pollUntil(t, "no goroutines left by refused streams", func() (bool, string) {
		n := runtime.NumGoroutine()
		return n <= before+20, fmt.Sprintf("%d (before: %d)", n, before)
	})
	s.scrapeIs(t, "connectsession_streams_refused_total", 51)
	// Ordinary requests are not streams and pass.
	if r := s.post(t, "Bearer "+key, `{ __typename }`, nil); len(r.Errors) > 0 {
		t.Fatalf("a query while the streams are full: %+v", r.Errors)
	}

	_ = first.conn.Close(websocket.StatusNormalClosure, "")
	s.scrapeIs(t, "connectsession_streams_open", 1)
	dialWS(t, s, protoTransportWS, nil, bearer)
}

// A socket whose connection_init carries no valid key still gets the contract's answers
// (connection_ack, then UNAUTHENTICATED per subscription), and is closed with 4403 when
// WS_KEYLESS_GRACE is over; a socket with a key is not.
func TestAbuseKeylessSocket(t *testing.T) {
	s := startServer(t, map[string]string{"WS_KEYLESS_GRACE": "300ms", "WS_IDLE_TIMEOUT": "0"})
	key := s.devKey(t)
	keyed := dialWS(t, s, protoTransportWS, nil, map[string]any{"Authorization": "Bearer " + key})
	for _, init := range []map[string]any{nil, {"Authorization": "Bearer csk_0000000000000000_" + strings.Repeat("A", 43)}} {
		c := dialWS(t, s, protoTransportWS, nil, init)
		c.subscribe("1", eventsSubscription, eventsVars)
		if e := c.nextEvent("1"); e.Code != "UNAUTHENTICATED" {
			t.Fatalf("keyless subscription: %+v, want UNAUTHENTICATED", e)
		}
		if code, reason := c.closed(); code != 4403 || !strings.Contains(reason, "no valid API key") {
			t.Fatalf("keyless socket closed with %d %q, want 4403", code, reason)
		}
	}
	legacy := dialWS(t, s, protoGraphQLWS, nil, nil)
	if code, _ := legacy.closed(); code != 4403 {
		t.Fatalf("keyless graphql-ws socket closed with %d, want 4403", code)
	}
	s.scrapeIs(t, `connectsession_websockets_closed_total{reason="keyless"}`, 3)
	// The keyed socket, opened first, outlived every grace period and still works.
	keyed.subscribe("k", eventsSubscription, eventsVars)
	s.activeSubscriptions(t, 1)
}

// A socket with no operation in flight for WS_IDLE_TIMEOUT is closed (1000), even while
// its client pings; one with an open subscription is not, until it ends.
func TestAbuseIdleSocket(t *testing.T) {
	s := startServer(t, map[string]string{"WS_IDLE_TIMEOUT": "300ms"})
	key := s.devKey(t)
	bearer := map[string]any{"Authorization": "Bearer " + key}
	busy := dialWS(t, s, protoTransportWS, nil, bearer)
	busy.subscribe("1", eventsSubscription, eventsVars)
	s.activeSubscriptions(t, 1)

	idle := dialWS(t, s, protoTransportWS, nil, bearer)
	stopPings := make(chan struct{})
	defer close(stopPings)
	go func() { // pings are not work: they must not keep the socket open
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopPings:
				return
			case <-tick.C:
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				err := wsjson.Write(ctx, idle.conn, wsMessage{Type: "ping"})
				cancel()
				if err != nil {
					return
				}
			}
		}
	}()
	if code, reason := idle.closed(); code != websocket.StatusNormalClosure || !strings.Contains(reason, "no operation") {
		t.Fatalf("idle socket closed with %d %q, want 1000", code, reason)
	}
	// The busy socket, opened first, is still there; once its subscription ends, it goes.
	s.activeSubscriptions(t, 1)
	busy.stop("1")
	if e := busy.nextEvent("1"); e.Code != "complete" {
		t.Fatalf("stopped subscription: %+v", e)
	}
	if code, _ := busy.closed(); code != websocket.StatusNormalClosure {
		t.Fatalf("socket idle after its subscription closed with %d, want 1000", code)
	}
	s.scrapeIs(t, `connectsession_websockets_closed_total{reason="idle"}`, 2)
}

// A connection_init naming two different credentials is refused (4400) rather than
// resolved by map order; the same credential twice is fine.
func TestAbuseDuplicateAuthorization(t *testing.T) {
	s := startServer(t, nil)
	key := s.devKey(t)
	other := "Bearer csk_0000000000000000_" + strings.Repeat("A", 43)
	for _, payload := range []map[string]any{
		{"Authorization": "Bearer " + key, "authorization": other},
		{"Authorization": other, "headers": map[string]any{"Authorization": "Bearer " + key}},
	} {
		for _, proto := range []string{protoTransportWS, protoGraphQLWS} {
			conn, _, err := dialRaw(t, s, proto)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			raw, _ := json.Marshal(payload)
			if err := wsjson.Write(ctx, conn, wsMessage{Type: "connection_init", Payload: raw}); err != nil {
				t.Fatal(err)
			}
			var m wsMessage
			for err == nil && m.Type != "connection_ack" {
				err = wsjson.Read(ctx, conn, &m) // graphql-ws gets a connection_error first
			}
			cancel()
			var ce websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != 4400 || !strings.Contains(ce.Reason, "two different Authorization") {
				t.Fatalf("%s, %v: got %+v / %v, want close 4400", proto, payload, m, err)
			}
		}
	}
	c := dialWS(t, s, protoTransportWS, nil, map[string]any{"Authorization": "Bearer " + key, "authorization": "bearer " + key})
	c.subscribe("1", eventsSubscription, eventsVars)
	s.activeSubscriptions(t, 1)
}
