package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// redisProcess is a redis-server the test owns, persisting every write (appendfsync
// always) so that a kill loses nothing it acknowledged.
type redisProcess struct {
	t    *testing.T
	port int
	dir  string
	cmd  *exec.Cmd
}

func startRedisProcess(t *testing.T, port int, dir string) *redisProcess {
	t.Helper()
	p := &redisProcess{t: t, port: port, dir: dir}
	p.cmd = exec.Command("redis-server", "--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--dir", dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always")
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(p.kill)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", p.addr(), 100*time.Millisecond)
		if err == nil {
			_, _ = c.Write([]byte("PING\r\n"))
			buf := make([]byte, 7)
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			n, _ := c.Read(buf)
			c.Close()
			if strings.HasPrefix(string(buf[:n]), "+PONG") {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %d did not answer", port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *redisProcess) addr() string { return "127.0.0.1:" + strconv.Itoa(p.port) }

func (p *redisProcess) kill() {
	if p.cmd.Process != nil && p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func readyzStatus(s *testServer) int {
	resp, err := http.Get(s.url + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestRedisGoesAwayAndComesBack(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server is not installed")
	}
	port, dir := freePort(t), t.TempDir()
	redis := startRedisProcess(t, port, dir)
	env := map[string]string{"REDIS_URL": "redis://" + redis.addr(), "REDIS_KEY_PREFIX": "fault"}
	key, err := (&sharedRedis{url: env["REDIS_URL"], prefix: "fault"}).apikey(t, "create", "-org", "1", "-role", "write")
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, env)
	bearer := "Bearer " + key

	// A steady stream of creates and reads until told to stop.
	var mu sync.Mutex
	var acknowledged []int
	codes := map[string]int{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				r := s.post(t, bearer, createMutation, createVars(1, "demo", fmt.Sprintf("w%d-%d", w, i)))
				took := time.Since(start)
				mu.Lock()
				if len(r.Errors) == 0 {
					var c created
					mustUnmarshal(t, r.Data, &c)
					acknowledged = append(acknowledged, c.CreateConnectSession.ConnectSession.ID)
					codes["OK"]++
				} else {
					codes[r.code()]++
				}
				mu.Unlock()
				if took > 5*time.Second {
					t.Errorf("a create took %v: requests must fail fast", took)
				}
				_ = s.post(t, bearer, `{ connectSessions(organizationId: 1, projectId: "demo", first: 5) { totalCount } }`, nil)
			}
		}()
	}
	waitUntil := func(what string, limit time.Duration, cond func() bool) time.Duration {
		t.Helper()
		start := time.Now()
		for !cond() {
			if time.Since(start) > limit {
				t.Fatalf("%s: not within %v", what, limit)
			}
			time.Sleep(20 * time.Millisecond)
		}
		return time.Since(start)
	}
	count := func(code string) int { mu.Lock(); defer mu.Unlock(); return codes[code] }

	waitUntil("first creates", 10*time.Second, func() bool { return count("OK") >= 20 })
	redis.kill()
	waitUntil("UNAVAILABLE while redis is down", 10*time.Second, func() bool { return count("UNAVAILABLE") >= 3 })
	waitUntil("/readyz 503 while redis is down", 5*time.Second, func() bool { return readyzStatus(s) == 503 })
	if got := count("INTERNAL_SERVER_ERROR"); got != 0 {
		t.Errorf("%d INTERNAL_SERVER_ERROR answers while redis was down, want UNAVAILABLE only", got)
	}

	startRedisProcess(t, port, dir) // same port and data directory: the AOF brings every write back
	okBefore := count("OK")
	took := waitUntil("recovery", 5*time.Second, func() bool { return count("OK") > okBefore+5 && readyzStatus(s) == 200 })
	close(stop)
	wg.Wait()
	t.Logf("serving again %v after redis restarted; answers: %v", took, codes)

	// Nothing half-written, and everything acknowledged is there.
	var out bytes.Buffer
	if err := run(context.Background(), []string{"cs", "verify"}, func(k string) string { return env[k] }, &out, &out); err != nil {
		t.Errorf("verify: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), " 0 inconsistencies") {
		t.Errorf("verify found inconsistencies:\n%s", out.String())
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range acknowledged {
		var one struct{ ConnectSession *struct{ ID int } }
		s.mustData(t, bearer, `query($id: Int!) { connectSession(organizationId: 1, projectId: "demo", id: $id) { id } }`, map[string]any{"id": id}, &one)
		if one.ConnectSession == nil {
			t.Errorf("session %d was acknowledged but is gone", id)
		}
	}
}

func mustUnmarshal(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
}
