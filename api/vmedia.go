package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/jsonwire"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows/contract"
)

// Firmware components (API 1.86) and virtual media (attach and detach
// 1.89, read 1.93). Virtual media go through the node's management
// interface in the virtual-media workflow, on the node lock; like Ironic's
// conductor, each call waits for a lock another operation holds (LockWait)
// before answering NodeLocked, so a detach right after an attach runs once
// the attach ends.

// listFirmware answers GET /v1/nodes/{ident}/firmware: the firmware
// components the node's firmware interface cached (Ironic's
// firmware_information). No firmware interface ferric has reads components
// (Ironic's fake caches none either), so the list is empty.
func (s *Server) listFirmware(c *fiber.Ctx) error {
	if err := routedFrom(c, v86Firmware); err != nil {
		return err
	}
	detail, err := queryBool(c, "detail")
	if err != nil {
		return err
	}
	if _, hasFields := parseFields(c); hasFields && detail != nil && *detail {
		return badRequest("Can not specify ?detail=True and fields in the same request.")
	}
	if _, err := s.loadNode(c, param(c, "ident")); err != nil {
		return err
	}
	return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte { return append(b, `{"firmware": []}`...) })
}

// vmediaSchema is Ironic's VMEDIA_ATTACH_VALIDATOR.
func vmediaSchema() *jschema {
	str := jsString
	var devs []any
	for _, d := range drivers.VirtualMediaDevices() {
		devs = append(devs, string(d))
	}
	s := js()
	s.types = []string{"object"}
	s.props = []jprop{
		{"device_type", str(devs...)},
		{"image_url", str()},
		{"image_download_source", str("http", "local", "swift")},
	}
	s.required = []string{"device_type", "image_url"}
	s.closed = true
	return s
}

var vmediaSchemaV = vmediaSchema()

// getVMedia answers GET /v1/nodes/{ident}/vmedia (1.93): the node's
// virtual media devices as its management interface reports them, read on
// the node lock as Ironic's conductor does. The read's workflow records the
// devices under a read ID that the API then takes from the database: their
// image URLs are user data and stay out of workflow history.
func (s *Server) getVMedia(c *fiber.Ctx) error {
	if err := routedFrom(c, v89AttachVMedia); err != nil {
		return err
	}
	if minor(c) < v93GetVMedia {
		return notFound("The resource could not be found.")
	}
	n, err := s.loadManagedNode(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	in := contract.VirtualMediaInput{NodeUUID: n.UUID, Action: contract.VMediaGet, OperationID: uuid.NewString(),
		RequestedBy: requester(ctx)}
	var returned []contract.VirtualMedia // from a worker that predates read IDs
	if err := s.runSyncWithin(c, s.lockWait(), n.UUID, n.ConductorGroup, contract.WorkflowID(n.UUID),
		contract.VirtualMediaName, in, &returned); err != nil {
		return err
	}
	// Taken even if the client has gone: the record holds image URLs.
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.syncTimeout())
	defer cancel()
	devs, err := s.Store.TakeMediaRead(tctx, in.OperationID)
	switch {
	case errors.Is(err, store.ErrNotFound) && returned == nil:
		return fmt.Errorf("virtual media of node %s: the read recorded nothing", n.UUID)
	case errors.Is(err, store.ErrNotFound):
		for _, d := range returned {
			devs = append(devs, drivers.VirtualMedia{MediaTypes: d.MediaTypes, Inserted: d.Inserted, Image: d.Image})
		}
	case err != nil:
		return fmt.Errorf("virtual media of node %s: %w", n.UUID, err)
	}
	return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte {
		b = append(b, '[')
		for i, d := range devs {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"media_types":`...)
			b = jsonwire.AppendStrings(b, d.MediaTypes)
			b = append(b, `,"inserted":`...)
			b = jsonwire.AppendBool(b, d.Inserted)
			b = append(b, `,"image":`...)
			b = jsonwire.AppendStringPtr(b, d.Image)
			b = append(b, '}')
		}
		return append(b, ']')
	})
}

// attachVMedia answers POST /v1/nodes/{ident}/vmedia {"device_type",
// "image_url", "image_download_source"}: the body is checked as Ironic
// checks it, then the attach starts on the node lock and the answer is 204
// at once; a failure is recorded on the node (last_error, history).
func (s *Server) attachVMedia(c *fiber.Ctx) error {
	if err := routedFrom(c, v89AttachVMedia); err != nil {
		return err
	}
	v, _, err := decodeBody(c)
	if err != nil {
		return err
	}
	if v == nil {
		v = jsonwire.NewObject() // Ironic validates a missing body as {}
	}
	if aerr := schemaFailure("vmedia", vmediaSchemaV, v); aerr != nil {
		return aerr
	}
	body := v.(*jsonwire.Object)
	args := contract.VirtualMediaArgs{ImageDownloadSource: "local"}
	args.DeviceType, _ = body.Value("device_type").(string)
	args.ImageURL, _ = body.Value("image_url").(string)
	if src, ok := body.Value("image_download_source").(string); ok {
		args.ImageDownloadSource = src
	}
	if scheme := urlScheme(args.ImageURL); scheme != "http" && scheme != "https" {
		return badRequest("Unsupported or missing URL scheme: %s", scheme)
	}
	n, err := s.loadManagedNode(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	raw, err := json.Marshal(args)
	if err != nil {
		return fmt.Errorf("encode virtual media attach for node %s: %w", n.UUID, err)
	}
	op, err := s.Store.CreateOperation(ctx, store.Operation{NodeUUID: n.UUID, Verb: contract.VMediaAttachVerb,
		Args: raw})
	if err != nil {
		return fmt.Errorf("record virtual media attach on node %s: %w", n.UUID, err)
	}
	in := contract.VirtualMediaInput{NodeUUID: n.UUID, Action: contract.VMediaAttach, OperationID: op.ID,
		DeviceTypes: []string{args.DeviceType}, RequestedBy: requester(ctx)}
	if err := s.beginWithin(ctx, s.lockWait(), &n, contract.VirtualMediaName, in); err != nil {
		_ = s.Store.DeleteOperation(context.WithoutCancel(ctx), op.ID)
		return err
	}
	return empty(c, fiber.StatusNoContent)
}

// urlScheme is Python's urllib.parse.urlparse(u).scheme: the part before
// the first colon when it is made of scheme characters and starts with a
// letter, lower-cased; "" otherwise.
func urlScheme(u string) string {
	i := strings.IndexByte(u, ':')
	if i <= 0 || !('a' <= u[0]|0x20 && u[0]|0x20 <= 'z') {
		return ""
	}
	for _, r := range u[:i] {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("+-.", r)) {
			return ""
		}
	}
	return strings.ToLower(u[:i])
}

// detachVMedia answers DELETE /v1/nodes/{ident}/vmedia[?device_types=a,b]:
// the detach starts on the node lock and the answer is 204 at once; a
// failure is recorded on the node.
func (s *Server) detachVMedia(c *fiber.Ctx) error {
	if err := routedFrom(c, v89AttachVMedia); err != nil {
		return err
	}
	if err := unexpectedArgs(c, "device_types"); err != nil {
		return err
	}
	var devs []string // nil: every device
	if raw, ok := query(c, "device_types"); ok {
		devs = []string{}
		for _, d := range strings.Split(raw, ",") {
			d = strings.ToLower(strings.TrimSpace(d))
			if d != "" && !slices.Contains(devs, d) {
				devs = append(devs, d)
			}
		}
	}
	var valid, invalid []string
	for _, d := range drivers.VirtualMediaDevices() {
		valid = append(valid, string(d))
	}
	for _, d := range devs {
		if !slices.Contains(valid, d) {
			invalid = append(invalid, d)
		}
	}
	if len(invalid) > 0 {
		return badRequest("Invalid device type(s) %s (valid are %s)", strings.Join(invalid, ", "),
			strings.Join(valid, ", "))
	}
	n, err := s.loadManagedNode(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	in := contract.VirtualMediaInput{NodeUUID: n.UUID, Action: contract.VMediaDetach, DeviceTypes: devs,
		RequestedBy: requester(ctx)}
	if err := s.beginWithin(ctx, s.lockWait(), &n, contract.VirtualMediaName, in); err != nil {
		return err
	}
	return empty(c, fiber.StatusNoContent)
}
