package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"connectsession/internal/redistest"
)

// lockedBuffer is an io.Writer safe to read while run writes to it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testServer is run(...) serving on a loopback port.
type testServer struct {
	url    string
	stdout *lockedBuffer
	logs   *lockedBuffer
	stop   func() error
}

// startServer runs the service with env (plus ADDR=127.0.0.1:0 and JSON logs), waits
// until /readyz answers 200, and stops it when the test ends.
func startServer(t *testing.T, env map[string]string) *testServer {
	t.Helper()
	full := map[string]string{"ADDR": "127.0.0.1:0", "LOG_FORMAT": "json", "LOG_LEVEL": "debug"}
	for k, v := range env {
		full[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	s := &testServer{stdout: &lockedBuffer{}, logs: &lockedBuffer{}}
	addrc := make(chan string, 1)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pr)
		sc.Buffer(nil, 4<<20)
		for sc.Scan() {
			line := sc.Bytes()
			_, _ = s.logs.Write(append(line, '\n'))
			var entry struct{ Msg, Addr string }
			if json.Unmarshal(line, &entry) == nil && entry.Msg == "listening" {
				addrc <- entry.Addr
			}
		}
	}()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"connectsession"}, func(k string) string { return full[k] }, s.stdout, pw)
		_ = pw.Close()
		// The last log lines are in s.logs only once the scanner has drained the pipe.
		<-scanned
		done <- err
	}()
	var once sync.Once
	var stopErr error
	s.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(15 * time.Second):
				t.Errorf("server did not stop within 15s")
			}
		})
		return stopErr
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("server stopped with %v", err)
		}
	})
	select {
	case addr := <-addrc:
		s.url = "http://" + addr
	case err := <-done:
		t.Fatalf("server exited before listening: %v\n%s", err, s.logs.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("server did not start listening\n%s", s.logs.String())
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never answered 200: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}

var devKeyPattern = regexp.MustCompile(`csk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}`)

// devKey returns the development key an embedded-mode server printed.
func (s *testServer) devKey(t *testing.T) string {
	t.Helper()
	k := devKeyPattern.FindString(s.stdout.String())
	if k == "" {
		t.Fatalf("no development key printed:\n%s", s.stdout.String())
	}
	return k
}

// gqlError is one error of a response, with the extensions the contract defines.
type gqlError = redistest.GQLError

type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
	status int
}

func (r *gqlResponse) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	return r.Errors[0].Code()
}

// post sends one GraphQL request with an Authorization header (none when auth is "").
func (s *testServer) post(t *testing.T, auth, query string, vars map[string]any) *gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, s.url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	defer resp.Body.Close()
	var out gqlResponse
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("response %d is not JSON: %s", resp.StatusCode, raw)
	}
	out.status = resp.StatusCode
	return &out
}

// mustData posts and fails the test on any error, decoding data into v.
func (s *testServer) mustData(t *testing.T, auth, query string, vars map[string]any, v any) {
	t.Helper()
	r := s.post(t, auth, query, vars)
	if len(r.Errors) > 0 {
		t.Fatalf("unexpected errors: %+v", r.Errors)
	}
	if v != nil {
		if err := json.Unmarshal(r.Data, v); err != nil {
			t.Fatalf("decode data %s: %v", r.Data, err)
		}
	}
}

// sharedRedis is a Redis that several servers and the apikey command can share: the
// real one from the environment when set, else a miniredis on a loopback port.
type sharedRedis struct {
	url    string
	prefix string
	rdb    redis.UniversalClient
}

func newSharedRedis(t *testing.T) *sharedRedis {
	t.Helper()
	b := redistest.FromEnvOrMini(t, "t")
	if b.URL() == "" { // a cluster, which run's REDIS_URL cannot name
		b = redistest.Mini(t, "t")
	}
	return &sharedRedis{url: b.URL(), prefix: b.Prefix, rdb: b.RDB}
}

func (r *sharedRedis) env() map[string]string {
	return map[string]string{"REDIS_URL": r.url, "REDIS_KEY_PREFIX": r.prefix}
}

// apikey runs the apikey command against r and returns the last line of stdout.
func (r *sharedRedis) apikey(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := r.env()
	err := run(context.Background(), append([]string{"connectsession", "apikey"}, args...),
		func(k string) string { return env[k] }, &stdout, &stderr)
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	return lines[len(lines)-1], err
}

// dump describes every key under r's prefix, to assert that nothing was written.
func (r *sharedRedis) dump(t *testing.T) map[string]string {
	t.Helper()
	return redistest.Snapshot(t, r.rdb, r.prefix)
}

// testConfig is the default configuration with its own key prefix, for tests that wire
// the service in process (newService) rather than through run.
func testConfig(prefix string) (*config, error) {
	cfg, err := buildConfig(func(env string) string {
		for _, s := range settings {
			if s.env == env {
				return s.def
			}
		}
		return ""
	})
	if err == nil {
		cfg.RedisKeyPrefix = prefix
	}
	return cfg, err
}
