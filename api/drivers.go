package api

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/gofiber/fiber/v2"

	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/jsonwire"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows/contract"
)

// Drivers are ferric's hardware types, from the registry. Every hardware
// type is "dynamic" and served by the one conductor.

// hardwareType returns a registered hardware type or Ironic's DriverNotFound.
func (s *Server) hardwareType(name string) (drivers.HardwareType, error) {
	if s.Drivers == nil {
		return drivers.HardwareType{}, driverNotFound(name)
	}
	hw, err := s.Drivers.Type(name)
	if err != nil {
		return drivers.HardwareType{}, driverNotFound(name)
	}
	return hw, nil
}

// driverDetailKinds are the interface kinds of a driver's detail view, in
// the order Ironic 21.4 emits them (reference/ironic-api-wire/driver_show_latest.txt;
// Ironic iterates a set, so its order changes with its hash seed), firmware
// (1.86) last, with the microversion that introduced each.
var driverDetailKinds = []struct {
	kind drivers.Kind
	min  int
}{
	{drivers.KindRescue, v38Rescue}, {drivers.KindManagement, v30DynamicDrivers},
	{drivers.KindVendor, v30DynamicDrivers}, {drivers.KindBoot, v30DynamicDrivers},
	{drivers.KindDeploy, v30DynamicDrivers}, {drivers.KindPower, v30DynamicDrivers},
	{drivers.KindBios, v40BiosInterface}, {drivers.KindRAID, v30DynamicDrivers},
	{drivers.KindStorage, v33StorageInterface}, {drivers.KindInspect, v30DynamicDrivers},
	{drivers.KindNetwork, v30DynamicDrivers}, {drivers.KindConsole, v30DynamicDrivers},
	{drivers.KindFirmware, v86Firmware},
}

// driverFieldNames lists the members of a detailed driver at microversion v.
func driverFieldNames(v int) []string {
	names := []string{"name", "hosts", "links"}
	if v >= v14StatesLinks {
		names = append(names, "properties")
	}
	if v >= v30DynamicDrivers {
		names = append(names, "type")
	}
	for _, k := range driverDetailKinds {
		if v >= k.min {
			names = append(names, "default_"+string(k.kind)+"_interface", "enabled_"+string(k.kind)+"_interfaces")
		}
	}
	return names
}

// appendDriver renders hw. fields, when non-nil, restricts the members
// (links are always kept, as Ironic's sanitize_dict does).
func (s *Server) appendDriver(b []byte, hw *drivers.HardwareType, v int, base string, detail bool, fields []string) []byte {
	keep := func(name string) bool { return fields == nil || name == "links" || contains(fields, name) }
	first := true
	key := func(name string) {
		b = jsonwire.AppendKey(b, name, first)
		first = false
	}
	b = append(b, '{')
	if keep("name") {
		key("name")
		b = jsonwire.AppendString(b, hw.Name)
	}
	if keep("hosts") {
		key("hosts")
		b = jsonwire.AppendStrings(b, []string{s.conductor()})
	}
	key("links")
	b = appendLinks(b, base, "drivers/"+hw.Name)
	if v >= v14StatesLinks && keep("properties") {
		key("properties")
		b = appendLinks(b, base, "drivers/"+hw.Name+"/properties")
	}
	if v >= v30DynamicDrivers {
		if keep("type") {
			key("type")
			b = jsonwire.AppendString(b, "dynamic")
		}
		if detail {
			for _, k := range driverDetailKinds {
				if v < k.min {
					continue
				}
				impls := hw.Interfaces[k.kind]
				if d := "default_" + string(k.kind) + "_interface"; keep(d) {
					key(d)
					if len(impls) > 0 {
						b = jsonwire.AppendString(b, impls[0])
					} else {
						b = append(b, "null"...)
					}
				}
				if e := "enabled_" + string(k.kind) + "_interfaces"; keep(e) {
					key(e)
					if impls == nil {
						impls = []string{}
					}
					b = jsonwire.AppendStrings(b, impls)
				}
			}
		}
	}
	return append(b, '}')
}

// driverFields reads and checks ?fields= for drivers (API 1.77).
func driverFields(c *fiber.Ctx, v int) ([]string, error) {
	fields, ok := parseFields(c)
	if !ok {
		return nil, nil
	}
	if v < v77DriverFields {
		return nil, notAcceptableMin(v77DriverFields)
	}
	valid := driverFieldNames(v)
	var bad []string
	for _, f := range fields {
		if !contains(valid, f) {
			bad = append(bad, f)
		}
	}
	if len(bad) > 0 {
		return nil, badRequest("Field(s) \"%s\" are not valid", strings.Join(bad, ", "))
	}
	return fields, nil
}

// listDrivers answers GET /v1/drivers.
func (s *Server) listDrivers(c *fiber.Ctx) error {
	v := minor(c)
	detail, err := queryBool(c, "detail")
	if err != nil {
		return err
	}
	typ, hasType := query(c, "type")
	if (detail != nil || hasType) && v < v30DynamicDrivers {
		return notAcceptableMin(v30DynamicDrivers)
	}
	if hasType && typ != "classic" && typ != "dynamic" {
		return badRequest("\"type\" filter must be one of \"classic\" or \"dynamic\", if specified.")
	}
	fields, err := driverFields(c, v)
	if err != nil {
		return err
	}
	var types []drivers.HardwareType
	if s.Drivers != nil && typ != "classic" {
		types = s.Drivers.Types()
	}
	base := s.publicURL(c)
	det := detail != nil && *detail
	return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte {
		b = append(b, `{"drivers":[`...)
		for i := range types {
			if i > 0 {
				b = append(b, ',')
			}
			b = s.appendDriver(b, &types[i], v, base, det, fields)
		}
		return append(b, "]}"...)
	})
}

// getDriver answers GET /v1/drivers/{name}.
func (s *Server) getDriver(c *fiber.Ctx) error {
	v := minor(c)
	hw, err := s.hardwareType(param(c, "name"))
	if err != nil {
		return err
	}
	fields, err := driverFields(c, v)
	if err != nil {
		return err
	}
	base := s.publicURL(c)
	return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte {
		return s.appendDriver(b, &hw, v, base, true, fields)
	})
}

// driverProperties answers GET /v1/drivers/{name}/properties: the
// driver_info keys the hardware type documents.
func (s *Server) driverProperties(c *fiber.Ctx) error {
	hw, err := s.hardwareType(param(c, "name"))
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(hw.Properties))
	for k := range hw.Properties {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte {
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonwire.AppendString(b, k)
			b = append(b, ':')
			b = jsonwire.AppendString(b, hw.Properties[k])
		}
		return append(b, '}')
	})
}

// Conductors (API 1.49). A conductor is a live worker serving a conductor
// group: Temporal's pollers of each group's workflow task queue (the groups
// of the nodes, and the empty group), seen polling within pollerFresh. A
// worker serving several groups is listed once per group, under the same
// hostname (its Temporal identity). Without a WorkflowDescriber (tests with
// a workflow fake) ferric presents one conductor named Server.Conductor,
// always alive.

// pollerFresh is how recently a worker must have polled to be alive.
const pollerFresh = 2 * time.Minute

// ConductorGroupLister lists the conductor groups of the nodes (the empty
// group first); store.Store satisfies it.
type ConductorGroupLister interface {
	ConductorGroups(ctx context.Context) ([]string, error)
}

// conductorEntry is one conductor: a worker's identity and a group it serves.
type conductorEntry struct {
	hostname, group string
	seen            *time.Time // last poll (nil: the static conductor)
}

// conductors lists the live conductors, sorted by hostname and group.
func (s *Server) conductors(ctx context.Context) ([]conductorEntry, error) {
	d, ok := s.Workflows.(WorkflowDescriber)
	gl, ok2 := s.Store.(ConductorGroupLister)
	if !ok || !ok2 {
		return []conductorEntry{{hostname: s.conductor()}}, nil
	}
	groups, err := gl.ConductorGroups(ctx)
	if err != nil {
		return nil, err
	}
	var out []conductorEntry
	for _, g := range groups {
		q := contract.GroupTaskQueue(s.taskQueue(), g)
		resp, err := d.DescribeTaskQueue(ctx, q, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
		if err != nil {
			return nil, fmt.Errorf("describe task queue %s: %w", q, err)
		}
		for _, p := range resp.GetPollers() {
			seen := p.GetLastAccessTime().AsTime()
			if time.Since(seen) < pollerFresh {
				out = append(out, conductorEntry{hostname: p.GetIdentity(), group: g, seen: &seen})
			}
		}
	}
	slices.SortFunc(out, func(a, b conductorEntry) int {
		return cmp.Or(cmp.Compare(a.hostname, b.hostname), cmp.Compare(a.group, b.group))
	})
	return out, nil
}

func (s *Server) appendConductor(b []byte, base string, e conductorEntry, detail bool) []byte {
	b = append(b, '{')
	if detail {
		b = append(b, `"created_at":null,"updated_at":`...)
		b = jsonwire.AppendTimePtr(b, e.seen)
		b = append(b, ',')
	}
	b = append(b, `"hostname":`...)
	b = jsonwire.AppendString(b, e.hostname)
	b = append(b, `,"conductor_group":`...)
	b = jsonwire.AppendString(b, e.group)
	if detail {
		var names []string
		if s.Drivers != nil {
			for _, t := range s.Drivers.Types() {
				names = append(names, t.Name)
			}
		}
		if names == nil {
			names = []string{}
		}
		b = append(b, `,"drivers":`...)
		b = jsonwire.AppendStrings(b, names)
	}
	b = append(b, `,"links":`...)
	b = appendLinks(b, base, "conductors/"+url.PathEscape(e.hostname))
	return append(b, `,"alive":true}`...)
}

// listConductors answers GET /v1/conductors.
func (s *Server) listConductors(c *fiber.Ctx) error {
	v := minor(c)
	if v < v49Conductors {
		return webobNotFound()
	}
	detail, err := queryBool(c, "detail")
	if err != nil {
		return err
	}
	list, err := s.conductors(c.UserContext())
	if err != nil {
		return err
	}
	base := s.publicURL(c)
	return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte {
		b = append(b, `{"conductors":[`...)
		for i, e := range list {
			if i > 0 {
				b = append(b, ',')
			}
			b = s.appendConductor(b, base, e, detail != nil && *detail)
		}
		return append(b, "]}"...)
	})
}

// getConductor answers GET /v1/conductors/{hostname} (a worker serving
// several groups shows its first).
func (s *Server) getConductor(c *fiber.Ctx) error {
	if minor(c) < v49Conductors {
		return webobNotFound()
	}
	name := param(c, "hostname")
	list, err := s.conductors(c.UserContext())
	if err != nil {
		return err
	}
	i := slices.IndexFunc(list, func(e conductorEntry) bool { return e.hostname == name })
	if i < 0 {
		return notFound("Conductor %s could not be found.", name)
	}
	base := s.publicURL(c)
	return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte { return s.appendConductor(b, base, list[i], true) })
}

// listShards answers GET /v1/shards (API 1.82): node counts per shard.
func (s *Server) listShards(c *fiber.Ctx) error {
	if minor(c) < v82Shard {
		return webobNotFound()
	}
	nodes, err := s.Store.ListNodes(c.UserContext(), store.ListNodes{IncludeChildren: true})
	if err != nil {
		return fmt.Errorf("list nodes for shards: %w", err)
	}
	counts := map[string]int{}
	for i := range nodes {
		if sh := nodes[i].Shard; sh != nil && *sh != "" {
			counts[*sh]++
		}
	}
	names := make([]string, 0, len(counts))
	for k := range counts {
		names = append(names, k)
	}
	sort.Strings(names)
	return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte {
		b = append(b, `{"shards":[`...)
		for i, n := range names {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"name":`...)
			b = jsonwire.AppendString(b, n)
			b = append(b, `,"count":`...)
			b = fmt.Appendf(b, "%d", counts[n])
			b = append(b, '}')
		}
		return append(b, "]}"...)
	})
}
