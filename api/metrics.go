package api

import (
	"time"

	"github.com/gofiber/fiber/v2"
)

// RequestMetrics observes the API's requests and the operations it starts;
// main hands it the process's metrics (cmd/ferric/metrics).
type RequestMetrics interface {
	// ObserveRequest records one answered request: method (a standard
	// method, or "other"), route template ("/v1/nodes/:ident", or
	// "unmatched"), status code and time taken.
	ObserveRequest(method, route string, status int, took time.Duration)
	// OperationStarted counts an operation started on a node, by verb
	// (contract.OperationVerb).
	OperationStarted(verb string)
}

// routeUnmatched labels requests no route serves.
const routeUnmatched = "unmatched"

// labelMethod returns a method as a label value: a constant (Fiber's method
// strings point into buffers it reuses, and a label value outlives the
// request), "other" for a non-standard method.
func labelMethod(m string) string {
	for _, std := range []string{fiber.MethodGet, fiber.MethodHead, fiber.MethodPost, fiber.MethodPut,
		fiber.MethodPatch, fiber.MethodDelete, fiber.MethodOptions} {
		if m == std {
			return std
		}
	}
	return "other"
}

// operationStarted counts a started workflow that is a user's operation.
func (s *Server) operationStarted(verb string) {
	if s.Metrics != nil && verb != "" {
		s.Metrics.OperationStarted(verb)
	}
}
