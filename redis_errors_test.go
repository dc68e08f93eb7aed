package main

import (
	"context"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"connectsession/internal/redistest"
)

// redisErrorsMetric returns the connectsession_redis_errors_total lines of /metrics
// that are not at zero.
func redisErrorsMetric(t *testing.T, s *testServer) []string {
	t.Helper()
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var lines []string
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "connectsession_redis_errors_total{") && !strings.HasSuffix(line, " 0") {
			lines = append(lines, line)
		}
	}
	return lines
}

// connectsession_redis_errors_total counts failures only. A Redis that does not know a
// script (a fresh server, one restarted, after SCRIPT FLUSH) answers its first EVALSHA
// with NOSCRIPT and the client sends it again with EVAL: the metric stays at zero, on
// the store's scripts as on redis_rate's. A Redis that fails is still counted.
func TestRedisErrorsMetricCountsOnlyFailures(t *testing.T) {
	type backend struct {
		url  string
		rdb  redis.UniversalClient
		fail func() // makes Redis fail from now on
	}
	backends := map[string]func(t *testing.T) backend{
		"miniredis": func(t *testing.T) backend {
			b := redistest.Mini(t, "t")
			return backend{b.URL(), b.RDB, func() { b.Mini.SetError("ERR injected failure") }}
		},
		"redis-server": func(t *testing.T) backend {
			if _, err := exec.LookPath("redis-server"); err != nil {
				t.Skip("redis-server is not installed")
			}
			p := startRedisProcess(t, freePort(t), t.TempDir()) // a fresh server: no script known
			rdb := redis.NewClient(&redis.Options{Addr: p.addr()})
			t.Cleanup(func() { _ = rdb.Close() })
			return backend{"redis://" + p.addr(), rdb, p.kill}
		},
	}
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			b := open(t)
			env := map[string]string{"REDIS_URL": b.url, "REDIS_KEY_PREFIX": "metric"}
			key, err := (&sharedRedis{url: b.url, prefix: "metric"}).apikey(t, "create", "-org", "1", "-role", "write")
			if err != nil {
				t.Fatal(err)
			}
			s := startServer(t, env)

			exerciseSessionFlow(t, s, key) // the first run of every script on this Redis
			if err := b.rdb.ScriptFlush(context.Background()).Err(); err != nil {
				t.Fatal(err)
			}
			exerciseSessionFlow(t, s, key) // and again once it has forgotten them
			if got := redisErrorsMetric(t, s); len(got) > 0 {
				t.Errorf("nothing failed, yet connectsession_redis_errors_total shows:\n%s", strings.Join(got, "\n"))
			}

			b.fail()
			r := s.post(t, "Bearer "+key, `{ connectSessions(organizationId: 1, projectId: "demo") { totalCount } }`, nil)
			if len(r.Errors) == 0 {
				t.Fatalf("a query on a failing Redis succeeded")
			}
			if got := redisErrorsMetric(t, s); len(got) == 0 {
				t.Errorf("Redis failed, yet connectsession_redis_errors_total shows nothing")
			}
		})
	}
}
