package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
)

// tracing is the process's OpenTelemetry tracing: off (a no-op provider,
// no interceptor) unless -otlp-endpoint names a collector.
type tracing struct {
	provider trace.TracerProvider
	// temporal carries the span of an API request into the workflows it
	// starts or signals, and from workflows to their activities (the
	// Temporal SDK's OpenTelemetry interceptor); nil when off.
	temporal interceptor.Interceptor
	shutdown func(context.Context) error
}

// newTracing sets tracing up for cfg: spans are batched and sent over
// OTLP/gRPC to cfg.otlpEndpoint, named by the service "ferric-<role>".
func newTracing(ctx context.Context, cfg config, log *slog.Logger) (*tracing, error) {
	if cfg.otlpEndpoint == "" {
		return &tracing{provider: noop.NewTracerProvider(), shutdown: func(context.Context) error { return nil }}, nil
	}
	u, err := url.Parse(cfg.otlpEndpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("-otlp-endpoint %q: want http://host:port or https://host:port", cfg.otlpEndpoint)
	}
	opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(u.Host)}
	if u.Scheme == "http" {
		opts = append(opts, otlptracegrpc.WithInsecure())
	}
	exp, err := otlptracegrpc.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("otlp exporter %s: %w", cfg.otlpEndpoint, err)
	}
	batch := cfg.traceBatch
	if batch <= 0 {
		batch = 5 * time.Second
	}
	res := resource.NewSchemaless(attribute.String("service.name", "ferric-"+cfg.role),
		attribute.String("service.instance.id", clientIdentity()))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(batch)),
		sdktrace.WithResource(res))
	ti, err := temporalotel.NewTracingInterceptor(temporalotel.TracerOptions{Tracer: tp.Tracer("ferric/temporal")})
	if err != nil {
		_ = tp.Shutdown(ctx)
		return nil, fmt.Errorf("temporal tracing interceptor: %w", err)
	}
	// OpenTelemetry reports failed exports (a collector down) through its
	// process-wide error handler, by default Go's log package on stderr:
	// they go to this process's logger instead, in its format.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("tracing: spans not exported", "otlp_endpoint", cfg.otlpEndpoint, "err", err)
	}))
	log.Info("tracing on", "otlp_endpoint", cfg.otlpEndpoint)
	return &tracing{provider: tp, temporal: ti, shutdown: tp.Shutdown}, nil
}

// clientInterceptors are the Temporal client's interceptors (the workers
// made from the client take them too).
func (t *tracing) clientInterceptors() []interceptor.ClientInterceptor {
	if t.temporal == nil {
		return nil
	}
	return []interceptor.ClientInterceptor{t.temporal}
}
