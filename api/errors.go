package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
	"go.temporal.io/api/serviceerror"

	"github.com/ferric-project/ferric/jsonwire"
	"github.com/ferric-project/ferric/store"
)

// errorShape is which of Ironic's two error bodies a failure uses. Ironic's
// controllers raise exceptions that WSME renders as
//
//	{"error_message": "{\"faultcode\": \"Client\", \"faultstring\": \"...\", \"debuginfo\": null}"}
//
// while failures raised by the routing layer (unknown path, bad microversion
// below /v1/<resource>) are webob errors rendered as
//
//	{"error_message": "{\"code\": 404, \"title\": \"Not Found\", \"description\": \"\"}"}
//
// (see reference/ironic-api-wire/unknown_path.txt and v1_ver_too_low.txt).
type errorShape uint8

const (
	shapeFault errorShape = iota
	shapeWebob
)

// apiError is a failure with an Ironic wire representation. Handlers return
// it; errorHandler writes it.
type apiError struct {
	status int
	msg    string
	shape  errorShape
	// bare drops the microversion headers from the response, as Ironic does
	// for errors raised before its v1 controller ran.
	bare bool
}

func (e *apiError) Error() string { return fmt.Sprintf("%d: %s", e.status, e.msg) }

func newError(status int, format string, a ...any) *apiError {
	msg := format
	if len(a) > 0 {
		msg = fmt.Sprintf(format, a...)
	}
	return &apiError{status: status, msg: msg}
}

func badRequest(format string, a ...any) *apiError {
	return newError(fiber.StatusBadRequest, format, a...)
}

func conflict(format string, a ...any) *apiError {
	return newError(fiber.StatusConflict, format, a...)
}

func notFound(format string, a ...any) *apiError {
	return newError(fiber.StatusNotFound, format, a...)
}

// notAcceptable is Ironic's NotAcceptable (406), raised when a request uses
// a feature newer than the negotiated microversion.
func notAcceptable(msg string) *apiError {
	if msg == "" {
		msg = "Request not acceptable."
	}
	return newError(fiber.StatusNotAcceptable, "%s", msg)
}

// notAcceptableMin is Ironic's NotAcceptable naming the minimal version.
func notAcceptableMin(minor int) *apiError {
	return notAcceptable(fmt.Sprintf("Request not acceptable. The minimal required API version should be 1.%d", minor))
}

// webobNotFound is the router's 404 (no such resource at this version).
func webobNotFound() *apiError {
	return &apiError{status: fiber.StatusNotFound, shape: shapeWebob, bare: true}
}

// nodeProtected is Ironic's NodeProtected: a protected node is not torn
// down, rebuilt or deleted.
func nodeProtected(uuid string) *apiError {
	return newError(fiber.StatusForbidden, "Node %s is protected and cannot be undeployed, rebuilt or deleted", uuid)
}

// Ironic's messages for missing resources.
func nodeNotFound(ident string) *apiError { return notFound("Node %s could not be found.", ident) }

func portNotFound(ident string) *apiError { return notFound("Port %s could not be found.", ident) }

func chassisNotFound(ident string) *apiError {
	return notFound("Chassis %s could not be found.", ident)
}

// nodeLocked is Ironic's NodeLocked: another operation holds the node.
func (s *Server) nodeLocked(uuid string) *apiError {
	return conflict("Node %s is locked by host %s, please retry after the current operation is completed.",
		uuid, s.conductor())
}

// invalidStateRequested is Ironic's InvalidStateRequested (400).
func invalidStateRequested(action, node, state string) *apiError {
	if state == "" {
		state = "None"
	}
	return badRequest("The requested action \"%s\" can not be performed on node \"%s\" while it is in state \"%s\".",
		action, node, state)
}

// Names of the microversion headers, as Ironic spells them on the wire.
const (
	hdrVersion    = "X-OpenStack-Ironic-API-Version"
	hdrMinVersion = "X-OpenStack-Ironic-API-Minimum-Version"
	hdrMaxVersion = "X-OpenStack-Ironic-API-Maximum-Version"
)

// errorHandler is the single place that writes error bodies. It maps the
// store's sentinels for handlers that pass them through, Fiber's routing
// and reading errors to webob-shaped bodies, and everything else to a 500
// that names nothing internal (the real error is logged).
func (s *Server) errorHandler() fiber.ErrorHandler {
	log := s.log()
	return func(c *fiber.Ctx, err error) error {
		var ae *apiError
		var fe *fiber.Error
		switch {
		case errors.As(err, &ae):
		case errors.Is(err, store.ErrUnavailable), isTemporalUnavailable(err):
			// An outage of the database or of Temporal: the client may retry.
			log.WarnContext(c.UserContext(), "dependency unavailable",
				"method", c.Method(), "path", c.Path(), "err", err)
			ae = newError(fiber.StatusServiceUnavailable,
				"The service is temporarily unavailable (its database or workflow engine cannot be reached); retry later.")
		case errors.Is(err, store.ErrNotFound):
			ae = notFound("Resource could not be found.")
		case errors.Is(err, store.ErrConflict):
			ae = conflict("The resource was updated concurrently, please retry.")
		case errors.Is(err, store.ErrInvalidArgument):
			ae = badRequest("Invalid parameter value.")
		case errors.As(err, &fe):
			ae = &apiError{status: fe.Code, shape: shapeWebob, bare: true}
			switch fe.Code {
			case fiber.StatusNotFound:
				// Ironic's router leaves the description empty.
			case fiber.StatusMethodNotAllowed:
				ae.msg = "The method " + requestMethod(c) + " is not allowed for this resource."
			case fiber.StatusRequestEntityTooLarge:
				// oslo.middleware's words. fasthttp refused the body
				// before reading it: take it in, or closing the
				// connection resets it before the client reads this.
				ae.msg = "Request is too large. Larger than max_request_body_size (" +
					strconv.Itoa(s.bodyLimit(c.Request().Header.Method(), c.Request().Header.RequestURI())) + ")."
				drainRequest(c.Context())
			case fiber.StatusRequestHeaderFieldsTooLarge:
				ae.msg = fe.Message
				drainRequest(c.Context())
			default:
				ae.msg = fe.Message
			}
		default:
			log.ErrorContext(c.UserContext(), "request failed",
				"method", c.Method(), "path", c.Path(), "err", err)
			ae = &apiError{status: fiber.StatusInternalServerError, msg: "An unknown exception occurred."}
		}
		ae.msg = clipMessage(ae.msg)
		if ae.bare {
			h := &c.Response().Header
			h.Del(hdrVersion)
			h.Del(hdrMinVersion)
			h.Del(hdrMaxVersion)
		}
		c.Status(ae.status)
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(errorBody(ae))
	}
}

// Draining: how long, how idle and how much of a refused request is read
// and discarded.
const (
	drainFor  = 10 * time.Second
	drainIdle = 200 * time.Millisecond
	drainMax  = 256 << 20
)

// drainRequest reads and discards what the client is still sending after
// its request was refused unread (too large a body or header), until it
// pauses — a client sends its request before it reads the answer — or for
// at most drainFor and drainMax bytes. Closing a socket with unread data
// makes the kernel reset the connection, and the client would see "connection
// reset" instead of the status. The server closes the connection after
// answering.
func drainRequest(ctx *fasthttp.RequestCtx) {
	conn := ctx.Conn()
	if conn == nil {
		return
	}
	deadline := time.Now().Add(drainFor)
	buf := make([]byte, 64<<10)
	for total := 0; total < drainMax; {
		next := time.Now().Add(drainIdle)
		if next.After(deadline) {
			next = deadline
		}
		if err := conn.SetReadDeadline(next); err != nil {
			return
		}
		n, err := conn.Read(buf)
		total += n
		if err != nil {
			return
		}
	}
}

// maxMessage bounds an error message in bytes. Messages quote what clients
// sent; pyRepr and pyDisplay cut long values, and this catches any other
// quote (a format's %s of a request value) so that no answer echoes a large
// input back.
const maxMessage = 2048

// clipMessage cuts the middle out of a message longer than maxMessage,
// keeping its start and its end (where the verdict usually is).
func clipMessage(msg string) string {
	if len(msg) <= maxMessage {
		return msg
	}
	head, tail := msg[:maxMessage*3/4], msg[len(msg)-maxMessage/8:]
	for len(head) > 0 && !utf8.RuneStart(msg[len(head)]) {
		head = head[:len(head)-1]
	}
	for len(tail) > 0 && !utf8.RuneStart(tail[0]) {
		tail = tail[1:]
	}
	return head + " ... " + tail
}

// errorBody renders ae in Ironic's format: a JSON object whose only member is
// a JSON *string* holding the real error document, both in Python's
// json.dumps spelling.
func errorBody(ae *apiError) []byte {
	inner := make([]byte, 0, 128+len(ae.msg))
	switch ae.shape {
	case shapeWebob:
		inner = append(inner, `{"code": `...)
		inner = strconv.AppendInt(inner, int64(ae.status), 10)
		inner = append(inner, `, "title": `...)
		inner = jsonwire.AppendASCIIString(inner, http.StatusText(ae.status))
		inner = append(inner, `, "description": `...)
		inner = jsonwire.AppendASCIIString(inner, ae.msg)
		inner = append(inner, '}')
	default:
		fault := "Client"
		if ae.status >= 500 {
			fault = "Server"
		}
		inner = append(inner, `{"faultcode": `...)
		inner = jsonwire.AppendASCIIString(inner, fault)
		inner = append(inner, `, "faultstring": `...)
		inner = jsonwire.AppendASCIIString(inner, ae.msg)
		inner = append(inner, `, "debuginfo": null}`...)
	}
	out := make([]byte, 0, len(inner)+32)
	out = append(out, `{"error_message": `...)
	out = jsonwire.AppendASCIIString(out, string(inner))
	return append(out, '}')
}

// isTemporalUnavailable reports whether err says the Temporal frontend cannot
// be reached.
func isTemporalUnavailable(err error) bool {
	var u *serviceerror.Unavailable
	var d *serviceerror.DeadlineExceeded
	return errors.As(err, &u) || errors.As(err, &d)
}
