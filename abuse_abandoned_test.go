package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"connectsession/auth"
	"connectsession/graph/model"
	"connectsession/httpapi"
	"connectsession/internal/redistest"
)

// stallHook holds the Redis commands of one request (told apart by its X-Request-Id,
// which the request's context carries) until that request's context ends, so a test can
// drop the client while the server is inside a store call. It records what happened.
type stallHook struct {
	id    string
	stall func(cmd redis.Cmder) bool // which of the request's live commands to hold

	mu       sync.Mutex
	held     int       // commands held
	released []error   // why each held command was let go (its context's error)
	endedAt  time.Time // when the first held command saw its context end
	late     []string  // commands attempted once the context had ended (refused by go-redis)
	leaked   []string  // commands with a live context after endedAt (a detached context)
	entered  chan struct{}
	once     sync.Once
}

func newStallHook(id string, stall func(redis.Cmder) bool) *stallHook {
	return &stallHook{id: id, stall: stall, entered: make(chan struct{})}
}

func (h *stallHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *stallHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			h.note(ctx, c)
		}
		return next(ctx, cmds)
	}
}

func (h *stallHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !h.note(ctx, cmd) || ctx.Err() != nil || !h.stall(cmd) {
			return next(ctx, cmd)
		}
		h.mu.Lock()
		h.held++
		h.mu.Unlock()
		h.once.Do(func() { close(h.entered) })
		select {
		case <-ctx.Done():
		case <-time.After(30 * time.Second): // the test fails on this below
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		h.released = append(h.released, ctx.Err())
		if ctx.Err() == nil {
			return errors.New("stalled command: the request's context never ended")
		}
		if h.endedAt.IsZero() {
			h.endedAt = time.Now()
		}
		return ctx.Err()
	}
}

// note records cmd when it belongs to the watched request; it reports whether it does.
// Connection set-up (CLIENT SETINFO, HELLO) is go-redis's, not a store call.
func (h *stallHook) note(ctx context.Context, cmd redis.Cmder) bool {
	if httpapi.RequestIDFrom(ctx) != h.id {
		return false
	}
	if cmd.Name() == "client" || cmd.Name() == "hello" {
		return true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case ctx.Err() != nil:
		h.late = append(h.late, cmd.Name())
	case !h.endedAt.IsZero():
		h.leaked = append(h.leaked, cmd.Name())
	}
	return true
}

// isScript matches the commands that run the store's scripts (pages, writes).
func isScript(cmd redis.Cmder) bool { return cmd.Name() == "evalsha" || cmd.Name() == "eval" }

// abandonService is the service over miniredis (or the real Redis at REDIS_URL) with the
// hook on its Redis client, logging JSON into logs, served on a loopback port.
func abandonService(t *testing.T, hook redis.Hook, logs io.Writer, tweak func(*config)) (url, key string, svc *service) {
	t.Helper()
	rb := redistest.FromEnvOrMini(t, "t")
	rdb := rb.RDB
	cfg, err := testConfig(rb.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RequestTimeout = time.Minute // far off: what ends a request here is its client
	if tweak != nil {
		tweak(cfg)
	}
	svc, err = newService(cfg, rdb, nil, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), nil)
	if err != nil {
		t.Fatal(err)
	}
	bg, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go svc.hub.Run(bg)
	rdb.AddHook(hook)
	key, _, err = auth.Issue(context.Background(), svc.store, 1, nil, model.RoleWrite, "abandon", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc.handler)
	t.Cleanup(srv.Close)
	return srv.URL, "Bearer " + key, svc
}

// waitFor polls cond until it holds, failing the test after five seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A request whose client has gone stops as soon as it can: the store call it was in sees
// its context cancelled (not the request deadline, which is far off), nothing more of
// it reaches Redis, the root fields not yet started are not run, and the abandoned
// request is not reported as Redis being unavailable. A subscription over SSE whose
// client goes releases its hub subscription.
func TestAbuseAbandonedRequest(t *testing.T) {
	t.Run("query", func(t *testing.T) {
		var aliases []string
		for i := range 10 {
			aliases = append(aliases, fmt.Sprintf(`p%d: connectSessions(organizationId: 1, projectId: "demo", first: 40) { totalCount nodes { id metadata } }`, i))
		}
		// Root fields of a query run side by side: all ten started before the client
		// left, and those not yet at Redis try once.
		abandon(t, "{ "+strings.Join(aliases, " ")+" }", len(aliases)-1)
	})
	t.Run("mutation", func(t *testing.T) {
		var aliases []string
		for i := range 10 {
			aliases = append(aliases, fmt.Sprintf(`c%d: createConnectSession(input: {organizationId: 1, projectId: "demo", originOwnerId: "o%d", originOwnerName: "O"}) { token }`, i, i))
		}
		// Root fields of a mutation run one after another: none after the first starts.
		abandon(t, "mutation { "+strings.Join(aliases, " ")+" }", 0)
	})
	t.Run("sse", abandonSSE)
	t.Run("reader gone quiet", abandonReading)
}

// abandon posts query, drops the connection once the server is held inside a store
// script, and checks what the server did next.
// maxLate bounds the store calls attempted after the client left (each refused by
// go-redis before anything is sent).
func abandon(t *testing.T, query string, maxLate int) {
	const id = "abandoned-request"
	hook := newStallHook(id, isScript)
	logs := &lockedBuffer{}
	url, key, _ := abandonService(t, hook, logs, nil)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	body, _ := json.Marshal(map[string]any{"query": query})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", key)
	req.Header.Set("X-Request-Id", id)
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("answered %d before the client left", resp.StatusCode)
		}
		done <- err
	}()
	select {
	case <-hook.entered:
	case err := <-done:
		t.Fatalf("request ended before reaching a store script: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("request never reached a store script")
	}
	cancel() // the client goes: its connection is closed
	<-done

	// The request ends: its access-log line is written once the handler returns.
	waitFor(t, "the abandoned request's handler returning", func() bool {
		return strings.Contains(logs.String(), `"id":"`+id+`"`)
	})
	hook.mu.Lock()
	defer hook.mu.Unlock()
	if hook.held == 0 || len(hook.released) != hook.held {
		t.Fatalf("held %d store calls, %d let go", hook.held, len(hook.released))
	}
	for _, err := range hook.released {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("held store call ended with %v, want context.Canceled (the client leaving, not the deadline)", err)
		}
	}
	if len(hook.leaked) > 0 {
		t.Errorf("after the client left, %d commands still went to Redis: %v", len(hook.leaked), hook.leaked)
	}
	// Root fields that had not started when the client left are not run at all; those
	// already running make at most the one call go-redis refuses.
	if len(hook.late) > maxLate {
		t.Errorf("after the client left, %d store calls were attempted, want at most %d: %v", len(hook.late), maxLate, hook.late)
	}
	// Counted apart from Redis outages, once.
	ops := grepLines(httpGet(t, url+"/metrics"), "connectsession_graphql_operations_total{")
	if !regexp.MustCompile(`code="CANCELED",operation="[^"]+"} 1\n?$`).MatchString(ops) || strings.Contains(ops, `code="UNAVAILABLE"`) {
		t.Errorf("operations metric after an abandoned request: want one CANCELED and no UNAVAILABLE, got\n%s", ops)
	}
	for line := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(line, `"level":"WARN"`) || strings.Contains(line, `"level":"ERROR"`) {
			t.Errorf("an abandoned request logged: %s", line)
		}
	}
}

// abandonReading asks for a large answer (10 pages of 100 sessions with 8 KB of metadata:
// about 8 MB, more than the socket buffers hold) and never reads it: the write deadline
// must free the handler, and the answer it holds, instead of leaving it blocked for as
// long as the connection stays up.
func abandonReading(t *testing.T) {
	const id = "quiet-reader"
	logs := &lockedBuffer{}
	url, key, svc := abandonService(t, newStallHook("none", isScript), logs, func(c *config) {
		c.ResponseWriteTimeout = 100 * time.Millisecond
	})
	meta := model.JSON(`{"pad":"` + strings.Repeat("x", 8000) + `"}`)
	for i := range 100 {
		if _, _, err := svc.store.Create(context.Background(), &model.CreateConnectSessionInput{OrganizationID: 1, ProjectID: "demo",
			OriginOwnerID: fmt.Sprint("o", i), OriginOwnerName: "O", Metadata: meta}); err != nil {
			t.Fatal(err)
		}
	}
	var aliases []string
	for i := range 10 {
		aliases = append(aliases, fmt.Sprintf(`p%d: connectSessions(organizationId: 1, projectId: "demo", first: 100) { nodes { metadata } }`, i))
	}
	body, _ := json.Marshal(map[string]any{"query": "{ " + strings.Join(aliases, " ") + " }"})
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(4096) // and never read
	if _, err := fmt.Fprintf(conn, "POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"+
		"Authorization: %s\r\nX-Request-Id: %s\r\nContent-Length: %d\r\n\r\n%s", key, id, len(body), body); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the handler of an answer nobody reads giving up", func() bool {
		return strings.Contains(logs.String(), `"id":"`+id+`"`)
	})
}

// abandonSSE opens a subscription over SSE, drops the connection, and checks that the
// hub lets the subscription go.
func abandonSSE(t *testing.T) {
	hook := newStallHook("none", func(redis.Cmder) bool { return false })
	url, key, svc := abandonService(t, hook, io.Discard, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	body, _ := json.Marshal(map[string]any{"query": eventsSubscription, "variables": map[string]any{"org": 1, "project": "demo"}})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// The stream is open once the hub counts it; prove it delivers, then leave.
	waitFor(t, "the SSE subscription starting", func() bool { return svc.hub.Active() == 1 })
	if _, _, err := svc.store.Create(context.Background(), &model.CreateConnectSessionInput{OrganizationID: 1, ProjectID: "demo",
		OriginOwnerID: "sse", OriginOwnerName: "SSE"}); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() && !strings.HasPrefix(sc.Text(), "data:") {
	}
	cancel()
	waitFor(t, "the hub releasing the abandoned SSE subscription", func() bool { return svc.hub.Active() == 0 })
	metrics := httpGet(t, url+"/metrics")
	if !strings.Contains(metrics, "connectsession_subscriptions_active 0") {
		t.Errorf("connectsession_subscriptions_active after the client left: want 0 in\n%s", grepLines(metrics, "subscriptions_active"))
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func grepLines(s, sub string) string {
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// The write deadline one answer sets must not cut the next request on the same
// keep-alive connection, whichever route it takes (net/http clears it once an answer is
// finished; this guards that the service relies on it rightly).
func TestAnswerDeadlineDoesNotOutliveItsRequest(t *testing.T) {
	url, key, _ := abandonService(t, newStallHook("none", isScript), io.Discard, func(c *config) {
		c.ResponseWriteTimeout = time.Millisecond
	})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	t.Cleanup(client.CloseIdleConnections)
	reused := 0
	get := func(req *http.Request) {
		t.Helper()
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
			if i.Reused {
				reused++
			}
		}}
		resp, err := client.Do(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
		if err != nil {
			t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
		}
		defer resp.Body.Close()
		if _, err := io.ReadAll(resp.Body); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: status %d, %v", req.Method, req.URL.Path, resp.StatusCode, err)
		}
	}
	body := `{"query":"{ connectSessions(organizationId: 1, projectId: \"demo\") { totalCount } }"}`
	req, _ := http.NewRequest(http.MethodPost, url+"/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", key)
	get(req)
	armed := time.Now()
	waitFor(t, "the first answer's deadline passing", func() bool { return time.Since(armed) > 5*time.Millisecond })
	health, _ := http.NewRequest(http.MethodGet, url+"/healthz", nil)
	get(health)
	if reused != 1 {
		t.Fatalf("the second request reused %d connections, want 1 (the same keep-alive connection)", reused)
	}
}
