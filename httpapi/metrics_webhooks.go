package httpapi

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// WebhookMetrics count webhook delivery attempts; they are the dispatcher's observer
// (webhooks.Observer). Labels are the few outcomes, never an endpoint or a tenant, so
// that the series stay few whatever the number of endpoints.
type WebhookMetrics struct {
	attempts *prometheus.CounterVec
	duration prometheus.Histogram
	disabled prometheus.Counter
}

// WebhookOutcomes are the outcomes an attempt may have (webhooks.Outcome*), scraped
// from the start at zero.
var WebhookOutcomes = []string{"success", "http_error", "network_error", "refused"}

// Webhooks registers the webhook delivery metrics and returns them.
func (m *Metrics) Webhooks() *WebhookMetrics {
	w := &WebhookMetrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "connectsession_webhook_deliveries_total",
			Help: "Webhook delivery attempts made by this instance, by outcome: success (2xx), http_error (any other status, redirects included), network_error (no answer: connection, TLS, timeout), refused (the address is not allowed).",
		}, []string{"outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "connectsession_webhook_delivery_duration_seconds",
			Help:    "Time from the start of a webhook delivery attempt to its outcome.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		disabled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "connectsession_webhook_endpoints_disabled_total",
			Help: "Webhook endpoints this instance disabled: an event failed for WEBHOOK_RETRY_FOR, or the event log no longer held what the endpoint had yet to receive.",
		}),
	}
	for _, o := range WebhookOutcomes {
		w.attempts.WithLabelValues(o)
	}
	m.reg.MustRegister(w.attempts, w.duration, w.disabled)
	return w
}

// Attempted counts one delivery attempt.
func (w *WebhookMetrics) Attempted(outcome string, took time.Duration) {
	w.attempts.WithLabelValues(outcome).Inc()
	w.duration.Observe(took.Seconds())
}

// Disabled counts an endpoint disabled by the service.
func (w *WebhookMetrics) Disabled() { w.disabled.Inc() }

// WebhookFigures are what the webhook gauges read when scraped (webhooks.Dispatcher).
type WebhookFigures interface {
	Lag() time.Duration
	Delivering() int
}

// WatchWebhooks publishes the dispatcher's backlog figures.
func (m *Metrics) WatchWebhooks(f WebhookFigures) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "connectsession_webhook_lag_seconds",
			Help: "Age of the oldest event not yet delivered, over the endpoints this instance delivers to or last saw behind (0 when all are caught up): the webhook backlog, in time.",
		}, func() float64 { return f.Lag().Seconds() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "connectsession_webhook_endpoints_delivering",
			Help: "Webhook endpoints this instance is delivering to now (WEBHOOK_CONCURRENCY bounds it).",
		}, func() float64 { return float64(f.Delivering()) }),
	)
}
