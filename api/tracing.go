package api

import (
	"context"

	"github.com/gofiber/fiber/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// traceRequests starts a server span for every request (named by method
// and route template, continuing a W3C traceparent the client sent) and
// makes it the request's context: the workflows the request starts or
// signals carry it on (the Temporal client's tracing interceptor).
func (s *Server) traceRequests(routes *routeTable) fiber.Handler {
	tracer := s.Tracer.Tracer("ferric/api")
	prop := propagation.TraceContext{}
	return func(c *fiber.Ctx) error {
		carrier := propagation.MapCarrier{}
		for _, h := range prop.Fields() {
			if v := c.Get(h); v != "" {
				carrier[h] = v
			}
		}
		method := labelMethod(requestMethod(c))
		ctx, span := tracer.Start(prop.Extract(c.UserContext(), carrier), method,
			trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		c.SetUserContext(ctx)
		if err := c.Next(); err != nil {
			if herr := c.App().ErrorHandler(c, err); herr != nil {
				span.RecordError(herr)
				return herr
			}
		}
		status := c.Response().StatusCode()
		route := routes.template(method, c.Path())
		span.SetName(method + " " + route)
		span.SetAttributes(attribute.String("http.request.method", method), attribute.String("http.route", route),
			attribute.Int("http.response.status_code", status),
			attribute.String("openstack.request_id", string(c.Response().Header.Peek(headerRequestID))))
		if status >= fiber.StatusInternalServerError {
			span.SetStatus(codes.Error, "")
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
