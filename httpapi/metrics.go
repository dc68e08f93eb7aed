package httpapi

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"connectsession/cache"
)

// Metrics are the service's Prometheus metrics, on a registry of their own.
type Metrics struct {
	reg         *prometheus.Registry
	operations  *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	redisErrors *prometheus.CounterVec
	scanUnits   prometheus.Counter
	scanCut     *prometheus.CounterVec
	// socketsClosed counts the WebSockets the budgets closed, by reason (idle, keyless).
	socketsClosed *prometheus.CounterVec
}

// NewMetrics registers the service's metrics, reading the hub's and the persisted-query
// store's figures when scraped.
func NewMetrics(hub *cache.Hub, apq *cache.APQ) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "connectsession_graphql_operations_total",
			Help: "Queries and mutations answered, by root fields and outcome (the first error's extensions.code, or OK).",
		}, []string{"operation", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "connectsession_graphql_operation_duration_seconds",
			Help:    "Time from the start of an operation to its response, by root fields.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"operation"}),
		redisErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "connectsession_redis_errors_total",
			Help: "Redis commands and pipelines that failed, by command (not failures: a missing key, a caller that went away, an EVALSHA answered NOSCRIPT that the client resent as EVAL, CLIENT SETINFO refused by a Redis before 7.2).",
		}, []string{"command"}),
		scanUnits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "connectsession_page_scan_units_total",
			Help: "Work spent by connectSessions page calls in Redis, in index entries examined (PAGE_SCAN_LIMIT bounds one call).",
		}),
		scanCut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "connectsession_page_scan_cut_total",
			Help: "connectSessions page calls whose page walk (part=page) or count (part=count) stopped at PAGE_SCAN_LIMIT.",
		}, []string{"part"}),
		socketsClosed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "connectsession_websockets_closed_total",
			Help: "WebSockets the service closed: idle (no operation for WS_IDLE_TIMEOUT) or keyless (no valid key after WS_KEYLESS_GRACE).",
		}, []string{"reason"}),
	}
	// Scraped from the start at zero, so that rates and alerts see a series before the
	// first failure: EVALSHA, which every session read and write is.
	m.redisErrors.WithLabelValues("evalsha")
	apqCount := func(pick func(h, m, e int64) int64) func() float64 {
		return func() float64 { h, mi, e := apq.Stats(); return float64(pick(h, mi, e)) }
	}
	m.reg.MustRegister(
		m.operations, m.duration, m.redisErrors, m.scanUnits, m.scanCut, m.socketsClosed,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "connectsession_subscriptions_active", Help: "Open connectSessionEvents subscriptions on this instance.",
		}, func() float64 { return float64(hub.Active()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "connectsession_subscriptions_dropped_total", Help: "Subscriptions ended because their reader fell behind.",
		}, func() float64 { return float64(hub.Dropped()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "connectsession_apq_hits_total", Help: "Persisted-query lookups that found the query.",
		}, apqCount(func(h, _, _ int64) int64 { return h })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "connectsession_apq_misses_total", Help: "Persisted-query lookups that did not (the client then sends the query).",
		}, apqCount(func(_, mi, _ int64) int64 { return mi })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "connectsession_apq_errors_total", Help: "Persisted-query lookups or registrations that Redis failed.",
		}, apqCount(func(_, _, e int64) int64 { return e })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "connectsession_apq_registrations_refused_total",
			Help: "Persisted queries not registered because their API key used its APQ_REGISTRATIONS_PER_HOUR.",
		}, func() float64 { return float64(apq.Refused()) }),
	)
	return m
}

// Observe records one answered operation. Rate-limit refusals show as code RATE_LIMITED.
func (m *Metrics) Observe(_ context.Context, operation, code string, took time.Duration) {
	m.operations.WithLabelValues(operation, code).Inc()
	m.duration.WithLabelValues(operation).Observe(took.Seconds())
}

// PageScan records what one page call spent of its work budget.
func (m *Metrics) PageScan(s cache.PageScan) {
	if m == nil {
		return
	}
	m.scanUnits.Add(float64(s.Examined))
	if s.Cut {
		m.scanCut.WithLabelValues("page").Inc()
	}
	if s.CountCut {
		m.scanCut.WithLabelValues("count").Inc()
	}
}

// SocketClosed counts a WebSocket the budgets closed.
func (m *Metrics) SocketClosed(reason string) { m.socketsClosed.WithLabelValues(reason).Inc() }

// WatchReadCache publishes the read cache's figures.
func (m *Metrics) WatchReadCache(c *cache.ReadCache) {
	stat := func(pick func(cache.ReadCacheStats) float64) func() float64 {
		return func() float64 { return pick(c.Stats()) }
	}
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "connectsession_read_cache_hits_total", Help: "Reads (connectSession, federation lookups) answered from the read cache.",
		}, stat(func(s cache.ReadCacheStats) float64 { return float64(s.Hits) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "connectsession_read_cache_misses_total", Help: "Reads through the read cache that went to Redis.",
		}, stat(func(s cache.ReadCacheStats) float64 { return float64(s.Misses) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "connectsession_read_cache_invalidations_total", Help: "Keys Redis said had changed since the read cache fetched them.",
		}, stat(func(s cache.ReadCacheStats) float64 { return float64(s.Invalidations) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "connectsession_read_cache_entries", Help: "Replies held by the read cache.",
		}, stat(func(s cache.ReadCacheStats) float64 { return float64(s.Entries) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "connectsession_read_cache_bytes", Help: "Estimated memory of the replies held by the read cache (READ_CACHE_MAX_BYTES bounds it).",
		}, stat(func(s cache.ReadCacheStats) float64 { return float64(s.Bytes) })),
	)
}

// WatchEventLogs publishes how many events the projects' event logs hold, as the
// retention sweep this instance last finished counted them (absent before one finished:
// only the instance holding the sweep's lock counts).
func (m *Metrics) WatchEventLogs(s *cache.Store) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "connectsession_event_log_events",
		Help: "Events held in all projects' event logs, counted by this instance's last retention sweep (NaN until it finished one).",
	}, func() float64 {
		if n, ok := s.LoggedEvents(); ok {
			return float64(n)
		}
		return math.NaN()
	}))
}

// WatchStreams publishes the stream gate's figures.
func (m *Metrics) WatchStreams(g *StreamGate) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "connectsession_streams_open", Help: "WebSockets and SSE streams open on this instance.",
		}, func() float64 { return float64(g.open.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "connectsession_streams_refused_total", Help: "WebSockets and SSE streams refused with 503 because MAX_STREAMS (or MAX_PENDING_STREAMS) were open.",
		}, func() float64 { return float64(g.refused.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "connectsession_streams_pending", Help: "Streams open on this instance that have not shown a valid API key yet.",
		}, func() float64 { return float64(g.pendingLen()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "connectsession_streams_displaced_total", Help: "WebSockets without a valid API key dropped for newer ones because MAX_PENDING_STREAMS were open.",
		}, func() float64 { return float64(g.displaced.Load()) }),
	)
}

func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// RedisHook returns the hook that counts failed Redis calls, for rdb.AddHook.
func (m *Metrics) RedisHook() redis.Hook { return redisHook{m} }

// redisHook counts failed Redis calls: those whose caller did not get what it asked.
type redisHook struct{ m *Metrics }

func (h redisHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h redisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if failed(err) && !recoveredNoScript(cmd, err) {
			h.m.redisErrors.WithLabelValues(cmd.Name()).Inc()
		}
		return err
	}
}

func (h redisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		// A NOSCRIPT in a pipeline is a failure: nothing resends it.
		if failed(err) && !refusedSetInfo(cmds, err) {
			h.m.redisErrors.WithLabelValues("pipeline").Inc()
		}
		return err
	}
}

// refusedSetInfo reports the pipeline with which go-redis opens every connection, CLIENT
// SETINFO, refused by a server that lacks the command (before Redis 7.2; miniredis):
// go-redis expects that answer and ignores it.
func refusedSetInfo(cmds []redis.Cmder, err error) bool {
	var reply redis.Error
	if !errors.As(err, &reply) || len(cmds) == 0 {
		return false
	}
	for _, c := range cmds {
		args := c.Args()
		if c.Name() != "client" || len(args) < 2 || !strings.EqualFold(fmt.Sprint(args[1]), "setinfo") {
			return false
		}
	}
	return true
}

// failed tells a failure from an answer: redis.Nil is a missing key, and a cancelled
// context is a caller that went away (counted under CANCELED by the operations metric).
func failed(err error) bool {
	return err != nil && !errors.Is(err, redis.Nil) && !errors.Is(err, context.Canceled)
}

// recoveredNoScript reports a lone EVALSHA answered NOSCRIPT: go-redis's Script.Run, the
// only way the service and redis_rate send one outside a pipeline, then sends the script
// with EVAL, which is counted if it fails. Every fresh Redis, restart or SCRIPT FLUSH
// answers the first EVALSHA of each script so.
func recoveredNoScript(cmd redis.Cmder, err error) bool {
	name := cmd.Name()
	return (name == "evalsha" || name == "evalsha_ro") && redis.HasErrorPrefix(err, "NOSCRIPT")
}
