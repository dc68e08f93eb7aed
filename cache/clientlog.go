package cache

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/redis/go-redis/v9"
)

// SetClientLogger sends the lines go-redis writes about its connections (a pool that
// cannot dial, a connection closed with unread data, a cluster node marked failed) to
// log as warnings with component=go-redis, instead of its own "redis: <date> <file>:"
// lines on stderr. go-redis has one logger per process (redis.SetLogger), so the last
// call wins; a line logged while serving a request carries its context, and so its
// request id.
func SetClientLogger(log *slog.Logger) {
	redis.SetLogger(clientLogger{log})
}

// clientLogger is go-redis's logging interface (Printf with a context) over slog.
type clientLogger struct{ log *slog.Logger }

func (l clientLogger) Printf(ctx context.Context, format string, v ...any) {
	if !l.log.Enabled(ctx, slog.LevelWarn) {
		return
	}
	msg := strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: ")
	l.log.Log(ctx, slog.LevelWarn, msg, "component", "go-redis")
}
