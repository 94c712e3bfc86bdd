package api

import (
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/ferric-project/ferric/jsonwire"
	"github.com/ferric-project/ferric/store"
)

// Node history (API 1.78).

// appendEvent renders one history entry; the short form truncates long
// event texts as Ironic does.
func appendEvent(b []byte, e *store.Event, nodeUUID, base string, detail bool) []byte {
	b = append(b, `{"uuid":`...)
	b = jsonwire.AppendString(b, e.UUID)
	b = append(b, `,"created_at":`...)
	if e.CreatedAt.IsZero() {
		b = append(b, "null"...)
	} else {
		b = jsonwire.AppendTime(b, e.CreatedAt)
	}
	b = append(b, `,"severity":`...)
	b = jsonwire.AppendString(b, e.Severity)
	text := e.Event
	if detail {
		b = append(b, `,"event_type":`...)
		b = jsonwire.AppendString(b, e.EventType)
	} else if r := []rune(text); len(r) > 255 {
		text = string(r[:251]) + "..."
	}
	b = append(b, `,"event":`...)
	b = jsonwire.AppendString(b, text)
	if detail {
		b = append(b, `,"conductor":`...)
		b = jsonwire.AppendString(b, e.Conductor)
		b = append(b, `,"user":`...)
		b = jsonwire.AppendStringPtr(b, e.User)
	}
	b = append(b, `,"links":[{"href":"`...)
	b = jsonwire.AppendEscaped(b, base+"/v1/nodes/"+nodeUUID+"/history/"+e.UUID)
	return append(b, `","rel":"self"}]}`...)
}

// nodeHistory answers GET /v1/nodes/{ident}/history.
func (s *Server) nodeHistory(c *fiber.Ctx) error {
	if minor(c) < v78History {
		return webobNotFound()
	}
	ident := param(c, "ident")
	detail, err := queryBool(c, "detail")
	if err != nil {
		return err
	}
	limit, err := s.queryLimit(c)
	if err != nil {
		return err
	}
	marker, hasMarker := query(c, "marker")
	if hasMarker {
		if _, err := argUUID("marker", marker); err != nil {
			return err
		}
	}
	n, err := s.loadNode(c, ident)
	if err != nil {
		return err
	}
	events, err := s.Store.NodeEvents(c.UserContext(), n.UUID)
	if err != nil {
		return fmt.Errorf("read history of node %s: %w", n.UUID, err)
	}
	if hasMarker {
		i := 0
		for i < len(events) && events[i].UUID != marker {
			i++
		}
		if i == len(events) {
			return notFound("Node history record %s could not be found.", marker)
		}
		events = events[i+1:]
	}
	if len(events) > limit {
		events = events[:limit]
	}
	det := detail != nil && *detail
	base := s.publicURL(c)
	var next string
	if len(events) > 0 && len(events) == limit {
		var args [][2]string
		if detail != nil {
			args = append(args, [2]string{"detail", pyBool(*detail)})
		}
		next = nextLink(base, "nodes/"+ident+"/history", args, limit, events[len(events)-1].UUID)
	}
	return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte {
		b = append(b, `{"history":[`...)
		for i := range events {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendEvent(b, &events[i], n.UUID, base, det)
		}
		b = append(b, ']')
		if next != "" {
			b = append(b, `,"next":`...)
			b = jsonwire.AppendString(b, next)
		}
		return append(b, '}')
	})
}

// nodeHistoryEvent answers GET /v1/nodes/{ident}/history/{event}.
func (s *Server) nodeHistoryEvent(c *fiber.Ctx) error {
	if minor(c) < v78History {
		return webobNotFound()
	}
	event := param(c, "event")
	n, err := s.loadNode(c, param(c, "ident"))
	if err != nil {
		return err
	}
	events, err := s.Store.NodeEvents(c.UserContext(), n.UUID)
	if err != nil {
		return fmt.Errorf("read history of node %s: %w", n.UUID, err)
	}
	for i := range events {
		if events[i].UUID == event {
			e := events[i]
			base := s.publicURL(c)
			return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte { return appendEvent(b, &e, n.UUID, base, true) })
		}
	}
	return notFound("Node history record %s could not be found.", event)
}
