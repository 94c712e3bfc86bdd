package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"

	"github.com/ferric-project/ferric/jsonwire"
	"github.com/ferric-project/ferric/node"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows/contract"
)

// POST /v1/continue_inspection: the ramdisk's inspection callback (Ironic
// 29's ContinueInspectionController, API 1.84, and at 1.1 as a drop-in for
// ironic-inspector's /v1/continue, which is what ironic-python-agent sends:
// no version header). The data is looked up to a node waiting in inspect
// wait, kept in the store and handed to the node's inspection workflow,
// which runs the inspection hooks and moves the node on.

// InspectionStore is what the inspection callback needs of the store;
// *store.Store satisfies it.
type InspectionStore interface {
	SubmitInspectionData(ctx context.Context, nodeUUID string, inventory, pluginData []byte) error
	DeleteInspectionData(ctx context.Context, nodeUUID string) error
	// PortsByAddresses finds the ports of the posted MACs in one query.
	PortsByAddresses(ctx context.Context, macs []string) ([]store.Port, error)
}

// continueInspectionSchema is Ironic's DATA_VALIDATOR: the minimal
// inventory it accepts (an object with at least one interface, each with a
// string mac_address; bmc addresses strings or null).
func continueInspectionSchema() *jschema {
	typed := func(t ...string) *jschema { s := js(); s.types = t; return s }
	iface := typed("object")
	iface.props = []jprop{{"mac_address", typed("string")}}
	iface.required = []string{"mac_address"}
	ifaces := typed("array")
	ifaces.items, ifaces.minItems = iface, 1
	inv := typed("object")
	inv.props = []jprop{{"bmc_address", typed("string", "null")}, {"bmc_v6address", typed("string", "null")},
		{"interfaces", ifaces}}
	inv.required = []string{"interfaces"}
	data := typed("object")
	data.props = []jprop{{"inventory", inv}}
	data.required = []string{"inventory"}
	return data
}

// continueInspectionSchemaV is built once; it is never modified.
var continueInspectionSchemaV = continueInspectionSchema()

// inspectionPayload is a parsed and validated continue_inspection body:
// the inventory and the rest (plugin_data) as compact JSON in the order
// posted, and the lookup keys.
type inspectionPayload struct {
	inventory, pluginData json.RawMessage
	macs                  []string // valid MACs, normalized (lower case), each once
	bmc                   []string // bmc_address, bmc_v6address when set
}

// parseInspectionPayload parses and validates body as Ironic does; the
// error is the client's (400), never a server fault.
func parseInspectionPayload(body []byte) (inspectionPayload, error) {
	var p inspectionPayload
	if len(bytes.TrimSpace(body)) == 0 {
		return p, badRequest("Missing mandatory parameter: data")
	}
	v, err := jsonwire.Decode(body)
	if err != nil {
		return p, badRequest("Invalid JSON in request body: %s", err)
	}
	if msg, _ := continueInspectionSchemaV.validate(v); msg != "" {
		return p, schemaError("data", msg)
	}
	data := v.(*jsonwire.Object) // decoded for this request only
	inv := data.Value("inventory").(*jsonwire.Object)
	data.Delete("inventory")
	p.inventory, p.pluginData = jsonwire.Encode(inv), jsonwire.Encode(data)
	// Each MAC once: a body that repeats one MAC costs one lookup key
	// (the lookup is one query over them all, as Ironic's).
	seen := map[string]bool{}
	for _, it := range inv.Value("interfaces").([]any) {
		mac, _ := it.(*jsonwire.Object).Value("mac_address").(string)
		if mac, ok := isValidMAC(mac); ok && !seen[mac] {
			seen[mac] = true
			p.macs = append(p.macs, mac)
		}
	}
	for _, k := range []string{"bmc_address", "bmc_v6address"} {
		if a, _ := inv.Value(k).(string); a != "" {
			p.bmc = append(p.bmc, a)
		}
	}
	return p, nil
}

// errInspectionNotFound is Ironic's answer to every lookup failure: one
// generic message, so that a caller learns nothing about nodes.
func errInspectionNotFound() *apiError { return notFound("Resource could not be found.") }

// continueInspection answers POST /v1/continue_inspection.
func (s *Server) continueInspection(c *fiber.Ctx) error {
	ctx := c.UserContext()
	v := minor(c)
	nodeParam, hasNode := query(c, "node_uuid")
	if (v != 1 && v < v84ContinueInspection) || (hasNode && v < v84ContinueInspection) {
		return notFound("API version 1.%d or newer is required", v84ContinueInspection)
	}
	if ct := strings.ToLower(string(c.Request().Header.ContentType())); strings.HasPrefix(ct, fiber.MIMEApplicationForm) {
		// Pecan reads a form body as arguments, which this call has none of.
		return badRequest("Unexpected arguments: %s", clipEcho(strings.ToValidUTF8(string(c.Body()), "\uFFFD")))
	}
	if hasNode {
		if _, err := uuid.Parse(nodeParam); err != nil {
			return badRequest("Expected UUID for node_uuid: %s", nodeParam)
		}
	}
	p, err := parseInspectionPayload(c.Body())
	if err != nil {
		return err
	}
	if len(p.macs) == 0 && len(p.bmc) == 0 && !hasNode {
		return badRequest("No lookup information provided")
	}
	if s.Inspection == nil {
		return errInspectionNotFound()
	}
	n, err := s.inspectionLookup(ctx, p, nodeParam)
	if err != nil {
		return err
	}
	if err := s.Inspection.SubmitInspectionData(ctx, n.UUID, p.inventory, p.pluginData); err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidState) || errors.Is(err, store.ErrExists) {
			s.log().WarnContext(ctx, "inspection data refused", "node", n.UUID, "err", err)
			return errInspectionNotFound()
		}
		return fmt.Errorf("continue inspection of node %s: %w", n.UUID, err)
	}
	err = s.Workflows.SignalWorkflow(ctx, contract.WorkflowID(n.UUID), "", contract.SignalInspectionData, nil)
	if err != nil {
		_ = s.Inspection.DeleteInspectionData(ctx, n.UUID)
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			s.log().WarnContext(ctx, "inspection data for a node in inspect wait, but no workflow runs on it",
				"node", n.UUID)
			return errInspectionNotFound()
		}
		return fmt.Errorf("signal inspection data to node %s: %w", n.UUID, err)
	}
	s.log().InfoContext(ctx, "inspection data received", "node", n.UUID, "macs", p.macs, "bmc", p.bmc)
	if v < v84ContinueInspection {
		c.Status(fiber.StatusAccepted)
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(append(append([]byte(`{"uuid":`), jsonwire.AppendString(nil, n.UUID)...), '}'))
	}
	token, err := s.inspectionToken(ctx, n.UUID)
	if err != nil {
		return err
	}
	return s.sendInspectionNode(c, n, token)
}

// inspectionLookup is Ironic's inspect_utils.lookup_node: the node named
// by node_uuid, by the ports of the MACs (which must all belong to one
// node) and by the BMC address among the nodes in inspect wait (which must
// agree with the node found by MAC); the node must be in inspect wait.
// Every failure is the same 404.
func (s *Server) inspectionLookup(ctx context.Context, p inspectionPayload, nodeUUID string) (store.Node, error) {
	var found *store.Node
	if nodeUUID != "" {
		n, err := s.Store.Node(ctx, nodeUUID)
		if errors.Is(err, store.ErrNotFound) {
			return store.Node{}, errInspectionNotFound()
		}
		if err != nil {
			return store.Node{}, fmt.Errorf("inspection lookup of node %s: %w", nodeUUID, err)
		}
		found = &n
	}
	if len(p.macs) > 0 {
		ports, err := s.Inspection.PortsByAddresses(ctx, p.macs)
		if err != nil {
			return store.Node{}, fmt.Errorf("inspection lookup by %d MACs: %w", len(p.macs), err)
		}
		var byMAC string
		for _, port := range ports {
			if byMAC != "" && port.NodeUUID != byMAC {
				s.log().WarnContext(ctx, "inspection lookup: the MACs belong to several nodes", "macs", p.macs)
				return store.Node{}, errInspectionNotFound()
			}
			byMAC = port.NodeUUID
		}
		if byMAC != "" {
			if found != nil && found.UUID != byMAC {
				s.log().WarnContext(ctx, "inspection lookup: the MACs belong to another node", "node", found.UUID,
					"macs_node", byMAC)
				return store.Node{}, errInspectionNotFound()
			}
			if found == nil { // else it is the node node_uuid named, read already
				n, err := s.Store.Node(ctx, byMAC)
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					return store.Node{}, fmt.Errorf("inspection lookup of node %s: %w", byMAC, err)
				}
				if err == nil {
					found = &n
				}
			}
		}
	}
	if found != nil && found.ProvisionState != node.InspectWait {
		s.log().WarnContext(ctx, "inspection data for a node not in inspect wait", "node", found.UUID,
			"provision_state", found.ProvisionState)
		return store.Node{}, errInspectionNotFound()
	}
	if len(p.bmc) > 0 {
		wait := node.InspectWait
		candidates, err := s.Store.ListNodes(ctx, store.ListNodes{ProvisionState: &wait})
		if err != nil {
			return store.Node{}, fmt.Errorf("inspection lookup by BMC address: %w", err)
		}
		var byBMC []store.Node
		for _, cand := range candidates {
			for _, a := range bmcAddresses(cand.DriverInfo) {
				if slices.Contains(p.bmc, a) {
					byBMC = append(byBMC, cand)
					break
				}
			}
		}
		switch {
		case found != nil && len(byBMC) > 0 && !slices.ContainsFunc(byBMC, func(n store.Node) bool { return n.UUID == found.UUID }):
			s.log().WarnContext(ctx, "inspection lookup: MACs and BMC address name different nodes", "node", found.UUID)
			return store.Node{}, errInspectionNotFound()
		case found == nil && len(byBMC) > 1:
			s.log().WarnContext(ctx, "inspection lookup: several nodes have the BMC address and no port matches",
				"bmc", p.bmc)
			return store.Node{}, errInspectionNotFound()
		case found == nil && len(byBMC) == 1:
			found = &byBMC[0]
		}
	}
	if found == nil {
		s.log().InfoContext(ctx, "inspection lookup found no node", "macs", p.macs, "bmc", p.bmc)
		return store.Node{}, errInspectionNotFound()
	}
	return *found, nil
}

// bmcAddresses are a node's BMC addresses as Ironic's inspection lookup
// takes them: every driver_info "*_address" value, the host of a URL,
// without IPv6 brackets (Ironic also resolves host names; ferric compares
// them as written).
func bmcAddresses(driverInfo json.RawMessage) []string {
	var info map[string]any
	if json.Unmarshal(driverInfo, &info) != nil {
		return nil
	}
	var out []string
	for k, v := range info {
		a, ok := v.(string)
		if !ok || !strings.HasSuffix(k, "_address") || a == "" {
			continue
		}
		if strings.Contains(a, "//") {
			if u, err := url.Parse(a); err == nil {
				a = u.Hostname()
			}
		}
		a = strings.Trim(a, "[]")
		if a != "" && !isLoopback(a) {
			out = append(out, a)
		}
	}
	return out
}

func isLoopback(a string) bool {
	return a == "localhost" || strings.HasPrefix(a, "127.") || a == "::1"
}

// inspectionToken issues the node's agent token as Ironic's
// get_node_with_token: a fresh one when the node has none, the masked
// "******" when one was issued already (it is never shown twice).
func (s *Server) inspectionToken(ctx context.Context, nodeUUID string) (string, error) {
	if s.Agents == nil {
		return "", nil
	}
	sess, err := s.Agents.AgentSession(ctx, nodeUUID)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil // no ramdisk session: no token to give
	}
	if err != nil {
		return "", fmt.Errorf("agent session of node %s: %w", nodeUUID, err)
	}
	token, err := s.firstAgentToken(ctx, sess, nodeUUID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	if token == "" { // issued before, or the session closed meanwhile
		return maskedValue, nil
	}
	return token, nil
}

// sendInspectionNode writes the 1.84 answer: Ironic's lookup document
// (the node's uuid, properties, instance_info and driver_internal_info,
// whose agent_secret_token is masked, and the agent configuration).
func (s *Server) sendInspectionNode(c *fiber.Ctx, n store.Node, token string) error {
	// The answer is public: secrets are masked as in every node document.
	// Ironic keeps the agent's token in driver_internal_info (ferric in the
	// agent session): it shows there, masked, once one was issued.
	dii := json.RawMessage(appendMasked(nil, orEmpty(n.DriverInternalInfo), false))
	if token != "" {
		o := decodeObject(dii)
		o.Set("agent_secret_token", maskedValue)
		dii = jsonwire.Encode(o)
	}
	base := s.publicURL(c)
	var tok any
	if token != "" {
		tok = token
	}
	nodeDoc := jsonwire.ObjectOf(
		"uuid", n.UUID,
		"properties", json.RawMessage(orEmpty(n.Properties)),
		"instance_info", json.RawMessage(appendMasked(nil, orEmpty(n.InstanceInfo), true)),
		"driver_internal_info", dii,
		"links", json.RawMessage(appendLinks(nil, base, "nodes/"+n.UUID)))
	config := jsonwire.ObjectOf(
		"metrics", jsonwire.ObjectOf("backend", "noop", "prepend_host", false, "prepend_uuid", false,
			"prepend_host_reverse", true, "global_prefix", nil),
		"metrics_statsd", jsonwire.ObjectOf("statsd_host", "localhost", "statsd_port", 8125),
		"heartbeat_timeout", 300,
		"agent_token", tok,
		"agent_token_required", true,
		"agent_md5_checksum_enable", true,
		"disable_deep_image_inspection", false,
		"permitted_image_formats", []string{"raw", "gpt", "qcow2", "iso"},
		"enable_bios_bootloader_install", true)
	resp := jsonwire.ObjectOf("node", nodeDoc, "config", config)
	b := jsonwire.Encode(resp)
	c.Status(fiber.StatusAccepted)
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(b)
}

func orEmpty(raw json.RawMessage) []byte {
	if len(raw) == 0 || string(raw) == "null" {
		return []byte("{}")
	}
	return raw
}
