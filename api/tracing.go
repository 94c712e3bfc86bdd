package api

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// observeRequests is the first middleware. It renders a handler's error
// with the app's error handler, so that what it records is the answer
// sent, and labels every request once with its route template (from the
// route table: no identifier becomes a label) and final status, for the
// request metrics (Metrics) and for a server span (Tracer: named by method
// and route template, continuing a W3C traceparent the client sent, and
// the request's context, which the workflows the request starts or
// signals carry on through the Temporal client's tracing interceptor).
func (s *Server) observeRequests(routes *routeTable) fiber.Handler {
	var tracer trace.Tracer
	if s.Tracer != nil {
		tracer = s.Tracer.Tracer("ferric/api")
	}
	prop := propagation.TraceContext{}
	return func(c *fiber.Ctx) error {
		start := time.Now()
		method := labelMethod(requestMethod(c))
		var span trace.Span
		if tracer != nil {
			carrier := propagation.MapCarrier{}
			for _, h := range prop.Fields() {
				if v := c.Get(h); v != "" {
					carrier[h] = v
				}
			}
			var ctx context.Context
			ctx, span = tracer.Start(prop.Extract(c.UserContext(), carrier), method,
				trace.WithSpanKind(trace.SpanKindServer))
			defer span.End()
			c.SetUserContext(ctx)
		}
		if err := c.Next(); err != nil {
			if herr := c.App().ErrorHandler(c, err); herr != nil {
				if span != nil {
					span.RecordError(herr)
				}
				return herr
			}
		}
		status := c.Response().StatusCode()
		route := routes.template(method, c.Path())
		if s.Metrics != nil {
			s.Metrics.ObserveRequest(method, route, status, time.Since(start))
		}
		if span != nil {
			span.SetName(method + " " + route)
			span.SetAttributes(attribute.String("http.request.method", method), attribute.String("http.route", route),
				attribute.Int("http.response.status_code", status),
				attribute.String("openstack.request_id", string(c.Response().Header.Peek(headerRequestID))))
			if status >= fiber.StatusInternalServerError {
				span.SetStatus(codes.Error, "")
			}
		}
		return nil
	}
}

// requestIDKey is the context key of a request's Openstack-Request-Id.
type requestIDKey struct{}

// RequestID returns the Openstack-Request-Id of the API request ctx
// belongs to ("" outside a request): logs name it on every line.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// ContextWithRequestID returns ctx carrying request ID id (RequestID).
func ContextWithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}
