package main

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"
)

// go-redis's own log lines (here: its pool cannot dial) come out through the service's
// logger, in its format, rather than as "redis: <date> <file>:<line>: ..." lines.
func TestGoRedisLogsThroughSlog(t *testing.T) {
	env := map[string]string{"REDIS_URL": "redis://127.0.0.1:" + itoa(freePort(t)) + "/0", // nothing listens there
		"ADDR": "127.0.0.1:0", "LOG_FORMAT": "json"}
	ctx, cancel := context.WithCancel(context.Background())
	var logs lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"connectsession"}, func(k string) string { return env[k] }, io.Discard, &logs)
	}()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Errorf("server did not stop")
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), `"component":"go-redis"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no go-redis line in the service's log:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var entry struct{ Level, Msg, Component string }
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Errorf("a log line is not the service's JSON: %q", line)
			continue
		}
		if entry.Component == "go-redis" && (entry.Level != "WARN" || !strings.Contains(entry.Msg, "dial")) {
			t.Errorf("go-redis line: %+v, want a warning about dialing", entry)
		}
	}
}
