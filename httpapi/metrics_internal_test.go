package httpapi

import (
	"context"
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// replyError is an error reply of Redis, as go-redis hands it over.
type replyError string

func (e replyError) Error() string { return string(e) }
func (replyError) RedisError()     {}

// The Redis error counter counts what failed for its caller, and nothing that go-redis
// or the service expects and gets past. (TestRedisErrorsMetricCountsOnlyFailures runs
// the same against Redis servers.)
func TestRedisHookCountsFailuresOnly(t *testing.T) {
	ctx := context.Background()
	cmd := func(args ...any) redis.Cmder { return redis.NewCmd(ctx, args...) }
	cases := []struct {
		name     string
		cmds     []redis.Cmder // one: a command; more: a pipeline
		err      error
		counted  bool
		pipeline bool
	}{
		{"miss", []redis.Cmder{cmd("get", "k")}, redis.Nil, false, false},
		{"caller went away", []redis.Cmder{cmd("hgetall", "k")}, context.Canceled, false, false},
		{"EVALSHA of an unknown script, resent as EVAL", []redis.Cmder{cmd("evalsha", "abc", 0)}, redis.ErrNoScript, false, false},
		{"EVAL that fails", []redis.Cmder{cmd("eval", "return", 0)}, replyError("ERR script error"), true, false},
		{"EVALSHA that fails otherwise", []redis.Cmder{cmd("evalsha", "abc", 0)}, replyError("BUSY"), true, false},
		{"timeout", []redis.Cmder{cmd("hgetall", "k")}, context.DeadlineExceeded, true, false},
		{"CLIENT SETINFO refused", []redis.Cmder{cmd("client", "setinfo", "LIB-NAME", "go-redis"), cmd("client", "setinfo", "LIB-VER", "9")},
			replyError("ERR unknown subcommand 'SETINFO'"), false, true},
		{"CLIENT SETINFO timing out", []redis.Cmder{cmd("client", "setinfo", "LIB-NAME", "go-redis"), cmd("client", "setinfo", "LIB-VER", "9")},
			context.DeadlineExceeded, true, true},
		{"NOSCRIPT in a pipeline", []redis.Cmder{cmd("evalsha", "abc", 0), cmd("evalsha", "abc", 0)}, redis.ErrNoScript, true, true},
		{"pipeline miss", []redis.Cmder{cmd("get", "a"), cmd("get", "b")}, redis.Nil, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := &Metrics{redisErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "e"}, []string{"command"})}
			h := m.RedisHook()
			var got error
			if c.pipeline {
				got = h.ProcessPipelineHook(func(context.Context, []redis.Cmder) error { return c.err })(ctx, c.cmds)
			} else {
				got = h.ProcessHook(func(context.Context, redis.Cmder) error { return c.err })(ctx, c.cmds[0])
			}
			if !errors.Is(got, c.err) {
				t.Errorf("the hook changed the error: %v", got)
			}
			n := series(m.redisErrors)
			if want := map[bool]int{true: 1, false: 0}[c.counted]; n != want {
				t.Errorf("counted %d, want %d", n, want)
			}
		})
	}
}

// series counts the label sets c has seen.
func series(c prometheus.Collector) int {
	ch := make(chan prometheus.Metric, 16)
	c.Collect(ch)
	close(ch)
	return len(ch)
}
