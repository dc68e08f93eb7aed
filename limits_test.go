package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// raw sends a request and returns the status and decoded body.
func raw(t *testing.T, req *http.Request) (int, *gqlResponse, http.Header) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out gqlResponse
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, &out, resp.Header
}

// stillServes checks that the server answers an ordinary query after a refusal.
func stillServes(t *testing.T, s *testServer, key string) {
	t.Helper()
	s.mustData(t, "Bearer "+key, `{ connectSessions(organizationId: 1, projectId: "demo", first: 1) { totalCount } }`, nil, nil)
}

func TestRequestLimits(t *testing.T) {
	s := startServer(t, map[string]string{"COMPLEXITY_LIMIT": "500", "DEPTH_LIMIT": "4", "ALIAS_LIMIT": "3", "MAX_BODY_BYTES": "65536"})
	key := s.devKey(t)
	post := func(body []byte, contentType string) (int, *gqlResponse) {
		req, _ := http.NewRequest(http.MethodPost, s.url+"/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Authorization", "Bearer "+key)
		status, out, _ := raw(t, req)
		return status, out
	}
	query := func(q string) []byte { b, _ := json.Marshal(map[string]any{"query": q}); return b }

	cases := []struct {
		name   string
		body   []byte
		status int
		code   string
	}{
		{"body over the limit", append(query(`{ __typename }`)[:0:0], []byte(`{"query":"`+strings.Repeat(" ", 70000)+`{ __typename }"}`)...), 413, "PAYLOAD_TOO_LARGE"},
		{"batched operations", []byte(`[{"query":"{ __typename }"},{"query":"{ __typename }"}]`), 400, "BAD_REQUEST"},
		{"undecodable body", []byte(`{"query":`), 400, "BAD_REQUEST"},
		{"too complex", query(`{ connectSessions(organizationId: 1, projectId: "demo", first: 100) { edges { cursor node { id provider label status } } } }`), 200, "COMPLEXITY_LIMIT_EXCEEDED"},
		{"too deep", query(`{ connectSessions(organizationId: 1, projectId: "demo") { edges { node { id } } pageInfo { endCursor } } _service { sdl } }`), 200, ""},
		{"deeper than allowed", query(`query Deep { connectSessions(organizationId: 1, projectId: "demo") { edges { node { id } } } ...F } fragment F on Query { connectSessions(organizationId: 1, projectId: "demo") { edges { node { organizationId } } } }`), 200, ""},
		{"too many aliases", query(`{ a: __typename b: __typename c: __typename d: __typename }`), 200, "COMPLEXITY_LIMIT_EXCEEDED"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, out := post(c.body, "application/json")
			if c.code == "" {
				// depth 4 is allowed: connectSessions > edges > node > id
				if status != 200 || len(out.Errors) > 0 {
					t.Errorf("got %d %+v, want an answer", status, out.Errors)
				}
			} else if status != c.status || out.code() != c.code {
				t.Errorf("got %d %q (%+v), want %d %s", status, out.code(), out.Errors, c.status, c.code)
			}
			stillServes(t, s, key)
		})
	}
	t.Run("depth over the limit", func(t *testing.T) {
		s2 := startServer(t, map[string]string{"DEPTH_LIMIT": "3"})
		k2 := s2.devKey(t)
		r := s2.post(t, "Bearer "+k2, `{ connectSessions(organizationId: 1, projectId: "demo") { edges { node { id } } } }`, nil)
		if r.code() != "DEPTH_LIMIT_EXCEEDED" {
			t.Errorf("got %+v, want DEPTH_LIMIT_EXCEEDED", r.Errors)
		}
		// Introspection counts too.
		r = s2.post(t, "Bearer "+k2, `{ __schema { types { fields { type { ofType { ofType { ofType { name } } } } } } } }`, nil)
		if r.code() != "DEPTH_LIMIT_EXCEEDED" {
			t.Errorf("got %+v, want DEPTH_LIMIT_EXCEEDED for deep introspection", r.Errors)
		}
		stillServes(t, s2, k2)
	})
}

func TestCSRFPrevention(t *testing.T) {
	s := startServer(t, nil)
	key := s.devKey(t)
	q := url.Values{"query": {`{ __typename }`}}.Encode()
	cases := []struct {
		name    string
		method  string
		ctype   string
		headers map[string]string
		want    int
	}{
		{"GET without a preflight header", http.MethodGet, "", nil, 400},
		{"GET with a key", http.MethodGet, "", map[string]string{"Authorization": "Bearer " + key}, 200},
		{"GET with Apollo-Require-Preflight", http.MethodGet, "", map[string]string{"Apollo-Require-Preflight": "true"}, 200},
		{"GET with X-Apollo-Operation-Name", http.MethodGet, "", map[string]string{"X-Apollo-Operation-Name": "x"}, 200},
		{"POST as a form", http.MethodPost, "application/x-www-form-urlencoded", nil, 400},
		{"POST as text/plain", http.MethodPost, "text/plain", nil, 400},
		{"POST as multipart", http.MethodPost, "multipart/form-data; boundary=x", nil, 400},
		{"POST as JSON", http.MethodPost, "application/json", nil, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var req *http.Request
			if c.method == http.MethodGet {
				req, _ = http.NewRequest(http.MethodGet, s.url+"/graphql?"+q, nil)
			} else {
				req, _ = http.NewRequest(http.MethodPost, s.url+"/graphql", strings.NewReader(`{"query":"{ __typename }"}`))
				req.Header.Set("Content-Type", c.ctype)
			}
			for k, v := range c.headers {
				req.Header.Set(k, v)
			}
			status, out, _ := raw(t, req)
			if status != c.want {
				t.Errorf("status: got %d, want %d (%+v)", status, c.want, out.Errors)
			}
			if c.want == 400 && out.code() != "BAD_REQUEST" {
				t.Errorf("code: got %q, want BAD_REQUEST", out.code())
			}
		})
	}
}

func TestIntrospectionSwitch(t *testing.T) {
	s := startServer(t, map[string]string{"INTROSPECTION": "false"})
	key := s.devKey(t)
	for _, q := range []string{`{ __schema { queryType { name } } }`, `{ __type(name: "Query") { name } }`, `{ ...F } fragment F on Query { __schema { types { name } } }`} {
		if r := s.post(t, "Bearer "+key, q, nil); r.code() != "GRAPHQL_VALIDATION_FAILED" {
			t.Errorf("%s with INTROSPECTION=false: got %s %+v", q, r.Data, r.Errors)
		}
	}
	s.mustData(t, "Bearer "+key, `{ __typename }`, nil, nil)
	var sdl struct {
		Service struct{ SDL string } `json:"_service"`
	}
	s.mustData(t, "Bearer "+key, `{ _service { sdl } }`, nil, &sdl)
	if !strings.Contains(sdl.Service.SDL, "ConnectSession") {
		t.Errorf("_service broke without introspection")
	}
}

func TestAuthenticateRateLimit(t *testing.T) {
	r := newSharedRedis(t)
	env := r.env()
	env["AUTHENTICATE_RATE_LIMIT"] = "3"
	a, b := startServer(t, env), startServer(t, env)
	q := `mutation { authenticateConnectSession(token: "cst_guess") { id } }`
	// The allowance is shared: two calls on A and one on B use it up.
	for i, s := range []*testServer{a, a, b} {
		if got := s.post(t, "", q, nil); got.code() != "UNAUTHENTICATED" {
			t.Fatalf("call %d: got %+v, want UNAUTHENTICATED", i, got.Errors)
		}
	}
	got := b.post(t, "", q, nil)
	if got.code() != "RATE_LIMITED" {
		t.Fatalf("4th call: got %+v, want RATE_LIMITED", got.Errors)
	}
	if retry, _ := got.Errors[0].Extensions["retryAfter"].(float64); retry < 1 || retry > 60 {
		t.Errorf("retryAfter: got %v, want 1..60 seconds", got.Errors[0].Extensions["retryAfter"])
	}
}

func TestMetricsAndRequestID(t *testing.T) {
	s := startServer(t, nil)
	key := s.devKey(t)
	stillServes(t, s, key)
	_ = s.post(t, "", `{ connectSessions(organizationId: 1, projectId: "demo") { totalCount } }`, nil)

	req, _ := http.NewRequest(http.MethodPost, s.url+"/graphql", strings.NewReader(`{"query":"{ __typename }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", "trace-me-42")
	if _, _, h := raw(t, req); h.Get("X-Request-Id") != "trace-me-42" {
		t.Errorf("X-Request-Id: got %q, want the caller's", h.Get("X-Request-Id"))
	}
	req, _ = http.NewRequest(http.MethodGet, s.url+"/healthz", nil)
	if _, _, h := raw(t, req); len(h.Get("X-Request-Id")) != 16 {
		t.Errorf("generated X-Request-Id: %q", h.Get("X-Request-Id"))
	}

	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`connectsession_graphql_operations_total{code="OK",operation="connectSessions"} 1`,
		`connectsession_graphql_operations_total{code="UNAUTHENTICATED",operation="connectSessions"} 1`,
		`connectsession_graphql_operation_duration_seconds_bucket{operation="connectSessions"`,
		"connectsession_subscriptions_active 0",
		"connectsession_apq_misses_total",
		"connectsession_redis_errors_total",
		"go_goroutines",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if !strings.Contains(s.logs.String(), `"id":"trace-me-42"`) {
		t.Errorf("access log lacks the request id")
	}
	_ = fmt.Sprint
}

// API_KEY_RATE_LIMIT bounds each key's operations per second across instances: once a
// key's budget is spent, both instances refuse it with RATE_LIMITED and retryAfter, write
// nothing, and count the refusal; other keys and keyless calls are not affected.
func TestAPIKeyRateLimit(t *testing.T) {
	r := newSharedRedis(t)
	busy, err := r.apikey(t, "create", "-org", "1", "-role", "write", "-label", "busy")
	if err != nil {
		t.Fatal(err)
	}
	quiet, err := r.apikey(t, "create", "-org", "1", "-role", "write", "-label", "quiet")
	if err != nil {
		t.Fatal(err)
	}
	env := r.env()
	env["API_KEY_RATE_LIMIT"] = "5"
	a, b := startServer(t, env), startServer(t, env)
	read := `{ connectSessions(organizationId: 1, projectId: "demo", first: 1) { totalCount } }`
	start := time.Now()
	allowed := 0
	var refused *gqlResponse
	for i := 0; i < 40 && refused == nil; i++ {
		s := a
		if i%2 == 1 {
			s = b
		}
		got := s.post(t, "Bearer "+busy, read, nil)
		switch got.code() {
		case "":
			allowed++
		case "RATE_LIMITED":
			refused = got
		default:
			t.Fatalf("request %d: %+v", i, got.Errors)
		}
	}
	if refused == nil {
		t.Fatalf("40 requests in %v with a limit of 5 per second: none refused", time.Since(start))
	}
	if most := 5 + int(time.Since(start).Seconds()*5) + 1; allowed < 5 || allowed > most {
		t.Errorf("allowed %d before the first refusal, want 5 to %d", allowed, most)
	}
	if retry, _ := refused.Errors[0].Extensions["retryAfter"].(float64); retry != 1 {
		t.Errorf("retryAfter: got %v, want 1 (seconds, rounded up)", refused.Errors[0].Extensions["retryAfter"])
	}

	before := r.dump(t)
	create := `mutation { createConnectSession(input: {organizationId: 1, projectId: "demo", originOwnerId: "o", originOwnerName: "O"}) { token } }`
	if got := b.post(t, "Bearer "+busy, create, nil); got.code() != "RATE_LIMITED" {
		t.Errorf("a mutation over the limit: got %+v, want RATE_LIMITED", got.Errors)
	}
	if after := r.dump(t); !maps.Equal(before, after) {
		t.Errorf("a refused mutation wrote to Redis")
	}
	a.mustData(t, "Bearer "+quiet, read, nil, nil)
	if got := a.post(t, "", `mutation { authenticateConnectSession(token: "cst_guess") { id } }`, nil); got.code() != "UNAUTHENTICATED" {
		t.Errorf("a call without a key: got %+v, want UNAUTHENTICATED", got.Errors)
	}

	resp, err := http.Get(b.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `connectsession_graphql_operations_total{code="RATE_LIMITED",operation="createConnectSession"} 1`) {
		t.Errorf("the refusal is not counted in /metrics")
	}

	time.Sleep(1100 * time.Millisecond)
	a.mustData(t, "Bearer "+busy, read, nil, nil)
}
