package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/ferric-project/ferric/jsonwire"
	"github.com/ferric-project/ferric/store"
)

// VIFs (API 1.28; port_uuid and portgroup_uuid in the attach body, 1.67).
//
// A VIF is recorded where Ironic records it: in the internal_info of the
// port or port group it is attached to (tenant_vif_port_id). What attaching
// does is the node's network interface's:
//
//   - noop (Ironic's NoopNetwork): nothing. Attach and detach succeed and
//     record nothing; the list is always empty (as Ironic 21.4 answers).
//   - flat (Ironic's FlatNetwork, VIFPortIDMixin): the VIF goes to a free
//     port or port group of the node, chosen as Ironic's
//     get_free_port_like_object chooses; detach clears it. Ironic's flat
//     also binds the VIF's Neutron port; ferric has no Neutron, so the
//     physical-network preference is computed with no VIF physical networks
//     (every port qualifies) and nothing is bound.
//
// Attach and detach change the node's ports under its lock (lockedWrite),
// as Ironic runs them in the conductor under the node's reservation.

// tenantVIFKey is where Ironic records a port's or port group's VIF.
const tenantVIFKey = "tenant_vif_port_id"

// vifUses are the internal_info keys Ironic's get_attached_vif reads, with
// the use it reports, in its order.
var vifUses = [][2]string{
	{tenantVIFKey, "tenant"},
	{"cleaning_vif_port_id", "cleaning"},
	{"provisioning_vif_port_id", "provisioning"},
	{"rescuing_vif_port_id", "rescuing"},
	{"inspection_vif_port_id", "inspecting"},
}

// attachedVIF is Ironic's get_attached_vif: the VIF a port is bound to and
// for what use, or "".
func attachedVIF(internalInfo json.RawMessage) (vif, use string) {
	o := decodeObject(internalInfo)
	for _, u := range vifUses {
		if v := o.Value(u[0]); jsonwire.Truthy(v) {
			return pyDisplay(v), u[1]
		}
	}
	return "", ""
}

// tenantVIF is the VIF recorded on a port or port group, or "".
func tenantVIF(internalInfo json.RawMessage) string {
	switch v := decodeObject(internalInfo).Value(tenantVIFKey).(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		return pyDisplay(v)
	}
}

// setTenantVIF returns internalInfo with the VIF recorded ("" removes it).
func setTenantVIF(internalInfo json.RawMessage, vif string) json.RawMessage {
	o := decodeObject(internalInfo)
	if vif == "" {
		o.Delete(tenantVIFKey)
	} else {
		o.Set(tenantVIFKey, vif)
	}
	return encodeValue(o)
}

// recordsVIFs reports whether n's network interface records VIFs (flat);
// noop ignores them.
func recordsVIFs(n *store.Node) bool { return n.Interfaces.Network == "flat" }

// gateVIFs answers the router's 404 below 1.28.
func gateVIFs(c *fiber.Ctx) error {
	if minor(c) < 28 {
		return webobNotFound()
	}
	return nil
}

// listVIFs answers GET /v1/nodes/{ident}/vifs (Ironic's vif_list: ports,
// then port groups).
func (s *Server) listVIFs(c *fiber.Ctx) error {
	if err := gateVIFs(c); err != nil {
		return err
	}
	n, err := s.loadNode(c, param(c, "ident"))
	if err != nil {
		return err
	}
	var vifs []string
	if recordsVIFs(&n) {
		ctx := c.UserContext()
		ports, err := s.Store.ListPorts(ctx, store.ListPorts{NodeUUID: n.UUID})
		if err != nil {
			return fmt.Errorf("list ports of node %s: %w", n.UUID, err)
		}
		groups, err := s.Store.ListPortgroups(ctx, store.ListPortgroups{NodeUUID: n.UUID})
		if err != nil {
			return fmt.Errorf("list portgroups of node %s: %w", n.UUID, err)
		}
		for i := range ports {
			if v := tenantVIF(ports[i].InternalInfo); v != "" {
				vifs = append(vifs, v)
			}
		}
		for i := range groups {
			if v := tenantVIF(groups[i].InternalInfo); v != "" {
				vifs = append(vifs, v)
			}
		}
	}
	return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte {
		b = append(b, `{"vifs":[`...)
		for i, v := range vifs {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"id":`...)
			b = jsonwire.AppendString(b, v)
			b = append(b, '}')
		}
		return append(b, "]}"...)
	})
}

// vifArg is Ironic's args.uuid_or_name for a VIF ID.
func vifArg(name string, v any) (string, error) {
	if s, ok := v.(string); ok && (isUUIDLike(s) || isValidLogicalName(s)) {
		return s, nil
	}
	return "", badRequest("Expected UUID or name for %s: %s", name, pyDisplay(v))
}

// vifAttach is an attach request: the VIF and where it should go.
type vifAttach struct {
	id string
	// portSet / groupSet: the body named a port (or a port group) to use;
	// port / group is its UUID ("" when the value is not a UUID string,
	// which matches nothing, as in Ironic).
	portSet, groupSet bool
	port, group       string
}

// parseVIFAttach reads an attach body: Ironic's VIF_VALIDATOR (an object
// with a string id, other members allowed), then at 1.67 the refusal of
// both port_uuid and portgroup_uuid.
func parseVIFAttach(c *fiber.Ctx) (vifAttach, error) {
	var a vifAttach
	body, err := decodeObjectBody(c, "vif")
	if err != nil {
		return a, err
	}
	raw, ok := body.Get("id")
	if !ok {
		return a, schemaError("vif", "'id' is a required property")
	}
	if _, isStr := raw.(string); !isStr {
		return a, schemaError("vif", pyRepr(raw)+" is not of type 'string'")
	}
	if a.id, err = vifArg("id", raw); err != nil {
		return a, err
	}
	_, hasPort := body.Get("port_uuid")
	_, hasGroup := body.Get("portgroup_uuid")
	if minor(c) >= 67 && hasPort && hasGroup {
		return a, badRequest("Cannot specify both port_uuid and portgroup_uuid")
	}
	// Ironic's _get_free_portgroups_and_ports: port_uuid wins when present;
	// a false value (null, "") names nothing.
	pick := func(k string) (bool, string) {
		v := body.Value(k)
		if !jsonwire.Truthy(v) {
			return false, ""
		}
		s, _ := v.(string)
		return true, s
	}
	if hasPort {
		a.portSet, a.port = pick("port_uuid")
	} else if hasGroup {
		a.groupSet, a.group = pick("portgroup_uuid")
	}
	return a, nil
}

// attachVIF answers POST /v1/nodes/{ident}/vifs (204).
func (s *Server) attachVIF(c *fiber.Ctx) error {
	if err := gateVIFs(c); err != nil {
		return err
	}
	a, err := parseVIFAttach(c)
	if err != nil {
		return err
	}
	return s.changeVIFs(c, func(q store.Queries, n *store.Node) error { return attachFlat(c, q, n, a) })
}

// changeVIFs runs change on the node of the request under its lock when its
// network interface records VIFs (a noop one records nothing), and answers
// 204.
func (s *Server) changeVIFs(c *fiber.Ctx, change func(q store.Queries, n *store.Node) error) error {
	n, err := s.loadNode(c, param(c, "ident"))
	if err != nil {
		return err
	}
	err = s.lockedWrite(c, []string{n.UUID}, func(q store.Queries, nodes map[string]store.Node) error {
		n := nodes[n.UUID]
		if !recordsVIFs(&n) {
			return nil
		}
		return change(q, &n)
	})
	if errors.Is(err, store.ErrNotFound) {
		return nodeNotFound(param(c, "ident"))
	} else if err != nil {
		return err
	}
	return empty(c, fiber.StatusNoContent)
}

// portLike is a port or a port group as VIF attachment sees it.
type portLike struct {
	port  *store.Port
	group *store.Portgroup
}

func (p portLike) internalInfo() json.RawMessage {
	info, _ := p.fields()
	return *info
}

// fields are p's internal_info and extra.
func (p portLike) fields() (internalInfo, extra *json.RawMessage) {
	if p.port != nil {
		return &p.port.InternalInfo, &p.port.Extra
	}
	return &p.group.InternalInfo, &p.group.Extra
}

// update writes p.
func (p portLike) update(ctx context.Context, q store.Queries) error {
	var err error
	if p.port != nil {
		_, err = q.UpdatePort(ctx, *p.port)
	} else {
		_, err = q.UpdatePortgroup(ctx, *p.group)
	}
	return err
}

// detach is VIFPortIDMixin.vif_detach on p if vif is attached to it: p
// forgets vif, and its extra's vif_port_id. It reports whether vif was on
// p.
func (p portLike) detach(ctx context.Context, q store.Queries, vif string) (bool, error) {
	info, extra := p.fields()
	if tenantVIF(*info) != vif {
		return false, nil
	}
	*info = setTenantVIF(*info, "")
	*extra = withoutKey(*extra, "vif_port_id")
	return true, p.update(ctx, q)
}

// alreadyAttached is Ironic's VifAlreadyAttached.
func (p portLike) alreadyAttached(vif string) error {
	kind, id := "Port", ""
	if p.port != nil {
		id = p.port.UUID
	} else {
		kind, id = "Portgroup", p.group.UUID
	}
	return conflict("Unable to attach VIF because VIF %s is already attached to Ironic %s %s", vif, kind, id)
}

// attached is Ironic's _vif_attached: VifAlreadyAttached when vif is on p;
// whether another VIF is.
func (p portLike) attached(vif string) (bool, error) {
	cur := tenantVIF(p.internalInfo())
	if cur == vif {
		return false, p.alreadyAttached(vif)
	}
	return cur != "", nil
}

// usableForVIF is Ironic's neutron.validate_port_info for a non-neutron
// network interface: a Smart NIC port needs port_id and hostname in its
// local link connection, and only a Smart NIC port may have both; an
// InfiniBand port (extra client-id) always qualifies.
func usableForVIF(p *store.Port) bool {
	if jsonwire.Truthy(decodeObject(p.Extra).Value("client-id")) {
		return true
	}
	llc := decodeObject(p.LocalLinkConnection)
	_, hasPort := llc.Get("port_id")
	_, hasHost := llc.Get("hostname")
	smart := hasPort && hasHost
	return p.IsSmartNIC == smart
}

// attachFlat attaches a VIF as Ironic's VIFPortIDMixin does (with no
// physical networks to honour): the node's ports in id order, then its
// port groups, are the candidates; a port group is preferred to a port and
// a PXE-enabled port to another, earlier ones first.
func attachFlat(c *fiber.Ctx, q store.Queries, n *store.Node, a vifAttach) error {
	ctx := c.UserContext()
	ports, err := q.ListPorts(ctx, store.ListPorts{NodeUUID: n.UUID})
	if err != nil {
		return err
	}
	groups, err := q.ListPortgroups(ctx, store.ListPortgroups{NodeUUID: n.UUID})
	if err != nil {
		return err
	}
	var free []portLike
	byGroup := map[string][]portLike{}
	unusable := map[string]bool{} // groups with a member bound to another VIF ("" stands for no group)
	for i := range ports {
		p := &ports[i]
		if a.portSet && a.port != p.UUID || !usableForVIF(p) {
			continue
		}
		other, err := portLike{port: p}.attached(a.id)
		if err != nil {
			return err
		}
		group := ""
		if p.PortgroupUUID != nil {
			group = *p.PortgroupUUID
		}
		if other {
			unusable[group] = true
			continue
		}
		if group == "" && !a.groupSet {
			free = append(free, portLike{port: p})
		} else {
			byGroup[group] = append(byGroup[group], portLike{port: p})
		}
	}
	if !a.portSet {
		for i := range groups {
			g := &groups[i]
			if a.groupSet && a.group != g.UUID {
				continue
			}
			if other, err := (portLike{group: g}).attached(a.id); err != nil {
				return err
			} else if other {
				continue
			}
			switch {
			case unusable[g.UUID]:
				if !a.groupSet {
					free = append(free, byGroup[g.UUID]...)
				}
			case len(byGroup[g.UUID]) > 0:
				free = append(free, portLike{group: g})
			}
		}
	}
	if len(free) == 0 {
		return badRequest("Unable to attach VIF %s, not enough free physical ports.", a.id)
	}
	rank := func(p portLike) int {
		switch {
		case p.group != nil:
			return 2
		case p.port.PXEEnabled:
			return 1
		}
		return 0
	}
	best := free[0] // Python's sorted(reverse=True) is stable: the first of the best
	for _, p := range free[1:] {
		if rank(p) > rank(best) {
			best = p
		}
	}
	info, _ := best.fields()
	*info = setTenantVIF(*info, a.id)
	return best.update(ctx, q)
}

// detachVIF answers DELETE /v1/nodes/{ident}/vifs/{vif} (204).
func (s *Server) detachVIF(c *fiber.Ctx) error {
	if err := gateVIFs(c); err != nil {
		return err
	}
	vif, err := vifArg("vif_id", param(c, "vif"))
	if err != nil {
		return err
	}
	return s.changeVIFs(c, func(q store.Queries, n *store.Node) error { return detachFlat(c, q, n, vif) })
}

// detachFlat is VIFPortIDMixin.vif_detach: the port group or port (groups
// first) holding the VIF forgets it, and its extra's vif_port_id.
func detachFlat(c *fiber.Ctx, q store.Queries, n *store.Node, vif string) error {
	ctx := c.UserContext()
	groups, err := q.ListPortgroups(ctx, store.ListPortgroups{NodeUUID: n.UUID})
	if err != nil {
		return err
	}
	for i := range groups {
		if held, err := (portLike{group: &groups[i]}).detach(ctx, q, vif); held {
			return err
		}
	}
	ports, err := q.ListPorts(ctx, store.ListPorts{NodeUUID: n.UUID})
	if err != nil {
		return err
	}
	for i := range ports {
		if held, err := (portLike{port: &ports[i]}).detach(ctx, q, vif); held {
			return err
		}
	}
	return badRequest("Unable to detach VIF %s from node %s because it is not attached to it.", vif, n.UUID)
}

// withoutKey returns a stored JSON object without member k.
func withoutKey(raw json.RawMessage, k string) json.RawMessage {
	o := decodeObject(raw)
	if !o.Delete(k) {
		return raw
	}
	return encodeValue(o)
}

// portChanged is the flat network interface's port_changed (Ironic's
// NeutronVIFPortIDMixin) for a member of port group g: a group without
// standalone ports takes no PXE-enabled or VIF-bound member.
func (s *Server) portChanged(n *store.Node, old, p *store.Port, g *store.Portgroup) error {
	if !recordsVIFs(n) || g.StandalonePortsSupported {
		return nil
	}
	vif := tenantVIF(p.InternalInfo)
	changed := old.PXEEnabled != p.PXEEnabled || !equalPtr(old.PortgroupUUID, p.PortgroupUUID)
	if !changed && vif == "" {
		return nil
	}
	var reason []string
	if p.PXEEnabled {
		reason = append(reason, "'pxe_enabled' was set to True")
	}
	if vif != "" {
		reason = append(reason, "VIF "+vif+" is attached to the port")
	}
	if len(reason) == 0 {
		return nil
	}
	return conflict("Port group %s doesn't support standalone ports. This port %s cannot be  a member of that port group because of: %s",
		g.UUID, p.UUID, strings.Join(reason, ", "))
}

// portgroupChanged is the flat network interface's portgroup_changed: a
// group keeps standalone ports while a member is PXE-enabled or bound to a
// VIF.
func (s *Server) portgroupChanged(c *fiber.Ctx, q store.Queries, n *store.Node, old, g *store.Portgroup) error {
	if !recordsVIFs(n) || g.StandalonePortsSupported || !old.StandalonePortsSupported {
		return nil
	}
	members, err := q.ListPorts(c.UserContext(), store.ListPorts{PortgroupUUID: g.UUID})
	if err != nil {
		return err
	}
	for i := range members {
		p := &members[i]
		var reason []string
		if p.PXEEnabled {
			reason = append(reason, "'pxe_enabled' is set to True")
		}
		if vif := tenantVIF(p.InternalInfo); vif != "" {
			reason = append(reason, "VIF "+vif+" is attached to this port")
		}
		if len(reason) > 0 {
			return conflict("standalone_ports_supported can not be set to False, because the port group %s contains port with %s",
				g.UUID, strings.Join(reason, ", "))
		}
	}
	return nil
}
