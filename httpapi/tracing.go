package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Tracing is OpenTelemetry tracing: on when OTEL_EXPORTER_OTLP_ENDPOINT names an
// OTLP/HTTP collector (spans go to <endpoint>/v1/traces), off otherwise.
type Tracing struct {
	provider *sdktrace.TracerProvider
}

// NewTracing starts the exporter when endpoint (an OTLP/HTTP collector) is set, naming
// the spans' service serviceName; a nil *Tracing means off.
func NewTracing(ctx context.Context, endpoint, serviceName string) (*Tracing, error) {
	if endpoint == "" {
		return nil, nil
	}
	endpoint = strings.TrimRight(endpoint, "/") + "/v1/traces"
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	res := resource.NewSchemaless(attribute.String("service.name", serviceName))
	return &Tracing{provider: sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))}, nil
}

// Tracer returns the tracer for operation spans, or nil when tracing is off.
func (t *Tracing) Tracer() trace.Tracer {
	if t == nil {
		return nil
	}
	return t.provider.Tracer("connectsession")
}

// Instrument adds HTTP server spans (continuing the caller's W3C trace context) and
// Redis command spans.
func (t *Tracing) Instrument(h http.Handler, rdb redis.UniversalClient) (http.Handler, error) {
	if t == nil {
		return h, nil
	}
	if err := redisotel.InstrumentTracing(rdb, redisotel.WithTracerProvider(t.provider)); err != nil {
		return nil, fmt.Errorf("tracing redis: %w", err)
	}
	return otelhttp.NewHandler(h, "http",
		otelhttp.WithTracerProvider(t.provider),
		otelhttp.WithPropagators(propagation.TraceContext{}),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }),
	), nil
}

// Shutdown flushes the spans still buffered.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.provider.Shutdown(ctx)
}
