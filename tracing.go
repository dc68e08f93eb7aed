package main

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

// tracing is OpenTelemetry tracing: on when OTEL_EXPORTER_OTLP_ENDPOINT names an
// OTLP/HTTP collector (spans go to <endpoint>/v1/traces), off otherwise.
type tracing struct {
	provider *sdktrace.TracerProvider
}

// newTracing starts the exporter when an endpoint is configured; a nil *tracing means off.
func newTracing(ctx context.Context, cfg *config) (*tracing, error) {
	if cfg.OTLPEndpoint == "" {
		return nil, nil
	}
	endpoint := strings.TrimRight(cfg.OTLPEndpoint, "/") + "/v1/traces"
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	res := resource.NewSchemaless(attribute.String("service.name", cfg.OTelServiceName))
	return &tracing{provider: sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))}, nil
}

// tracer returns the tracer for operation spans, or nil when tracing is off.
func (t *tracing) tracer() trace.Tracer {
	if t == nil {
		return nil
	}
	return t.provider.Tracer("connectsession")
}

// instrument adds HTTP server spans (continuing the caller's W3C trace context) and
// Redis command spans.
func (t *tracing) instrument(h http.Handler, rdb redis.UniversalClient) (http.Handler, error) {
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

// shutdown flushes the spans still buffered.
func (t *tracing) shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.provider.Shutdown(ctx)
}
