package api

import (
	"errors"
	"fmt"
	"slices"

	"github.com/gofiber/fiber/v2"

	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/jsonwire"
	"github.com/ferric-project/ferric/store"
)

// RAID (API 1.12) and BIOS settings (1.40, registry fields 1.74).

// raidDiskProps are the logical disk properties of Ironic's RAID
// configuration schema (drivers/raid_config_schema.json), in its order,
// with their descriptions: what every RAID interface answers to GET
// /v1/drivers/{name}/raid/logical_disk_properties.
var raidDiskProps = [][2]string{
	{"raid_level", "RAID level for the logical disk. Valid values are 'JBOD', '0', '1', '2', '5', '6', '1+0', '5+0' and '6+0'. Required."},
	{"size_gb", "Size in GiB (Integer) for the logical disk. Use 'MAX' as size_gb if this logical disk is supposed to use the rest of the space available. Required."},
	{"volume_name", "Name of the volume to be created. If this is not specified, it will be auto-generated. Optional."},
	{"is_root_volume", "Specifies whether this disk is a root volume. By default, this is False. Optional."},
	{"share_physical_disks", "Specifies whether other logical disks can share physical disks with this logical disk. By default, this is False. Optional."},
	{"disk_type", "The type of disk preferred. Valid values are 'hdd' and 'ssd'. If this is not specified, disk type will not be a selection criterion for choosing backing physical disks. Optional."},
	{"interface_type", "The interface type of disk. Valid values are 'sata', 'scsi' and 'sas'. If this is not specified, interface type will not be a selection criterion for choosing backing physical disks. Optional."},
	{"number_of_physical_disks", "Number of physical disks to use for this logical disk. By default, the driver uses the minimum number of disks required for that RAID level. Optional."},
	{"controller", "Controller to use for this logical disk. If not specified, the driver will choose a suitable RAID controller on the bare metal node. Optional."},
	{"physical_disks", "The physical disks to use for this logical disk. If not specified, the driver will choose suitable physical disks to use. Optional."},
}

// raidSchema is Ironic's RAID configuration schema.
func raidSchema() *jschema {
	str := jsString
	boolean := func() *jschema { s := js(); s.types = []string{"boolean"}; return s }
	zero := int64(0)
	sizeInt := js()
	sizeInt.types, sizeInt.minimum = []string{"integer"}, &zero
	size := js()
	size.anyOf = []*jschema{sizeInt, str("MAX")}
	count := js()
	count.types, count.minimum, count.exclusive = []string{"integer"}, &zero, true
	names := js()
	names.types, names.items = []string{"array"}, str()
	objs := js()
	objs.types, objs.minItems = []string{"array"}, 2
	objs.items = js()
	objs.items.types = []string{"object"}
	pdisks := js()
	pdisks.anyOf = []*jschema{names, objs}
	disk := js()
	disk.types = []string{"object"}
	disk.props = []jprop{
		{"raid_level", str("JBOD", "0", "1", "2", "5", "6", "1+0", "5+0", "6+0")},
		{"size_gb", size},
		{"volume_name", str()},
		{"is_root_volume", boolean()},
		{"share_physical_disks", boolean()},
		{"disk_type", str("hdd", "ssd")},
		{"interface_type", str("sata", "scsi", "sas")},
		{"number_of_physical_disks", count},
		{"controller", str()},
		{"physical_disks", pdisks},
	}
	disk.required = []string{"raid_level", "size_gb"}
	disk.closed = true
	disk.deps = []jdep{{"physical_disks", []string{"controller"}}}
	disks := js()
	disks.types, disks.items, disks.minItems = []string{"array"}, disk, 1
	s := js()
	s.types = []string{"object"}
	s.props = []jprop{{"logical_disks", disks}}
	s.required = []string{"logical_disks"}
	s.closed = true
	return s
}

var raidSchemaV = raidSchema()

// checkRAIDConfig is Ironic's raid.validate_configuration: the schema,
// then at most one root volume.
func checkRAIDConfig(cfg *jsonwire.Object) *apiError {
	if msg, _ := raidSchemaV.validate(cfg); msg != "" {
		return badRequest("RAID config validation error: %s", msg)
	}
	roots := 0
	disks, _ := cfg.Value("logical_disks").([]any)
	for _, d := range disks {
		if o, ok := d.(*jsonwire.Object); ok && o.Value("is_root_volume") == true {
			roots++
		}
	}
	if roots > 1 {
		return badRequest("Raid config cannot have more than one root volume. %d root volumes were specified", roots)
	}
	return nil
}

// raidUnsupported is Ironic's UnsupportedDriverExtension for RAID, which its
// API answers with 404.
func raidUnsupported(driver string) *apiError {
	return notFound("Driver %s does not support raid (disabled or not implemented).", driver)
}

// setRAIDConfig answers PUT /v1/nodes/{ident}/states/raid: it checks the
// target RAID configuration with the node's RAID interface (no-raid
// refuses any but an empty one) and stores it; a RAID step builds it.
func (s *Server) setRAIDConfig(c *fiber.Ctx) error {
	v, ok, err := decodeBody(c)
	if err != nil {
		return err
	}
	cfg, isObj := v.(*jsonwire.Object)
	if !ok || !isObj {
		return badRequest("Expected types <class 'dict'> for target_raid_config: %s", pyDisplay(v))
	}
	if _, err := s.loadNode(c, param(c, "ident")); err != nil {
		return err
	}
	if minor(c) < v12RAIDConfig {
		return notAcceptable("")
	}
	raw := encodeValue(cfg)
	if _, err := s.updateLockedNode(c, param(c, "ident"), func(n *store.Node) error {
		if cfg.Len() > 0 {
			if s.Drivers == nil {
				return raidUnsupported(n.Driver)
			}
			if _, err := s.Drivers.RAID(n.Interfaces.RAID, n.DriverNode()); errors.Is(err, drivers.ErrUnsupported) {
				return raidUnsupported(n.Driver)
			}
			if err := checkRAIDConfig(cfg); err != nil {
				return err
			}
		}
		n.TargetRAIDConfig = raw
		return nil
	}); err != nil {
		return err
	}
	return empty(c, fiber.StatusNoContent)
}

// raidDiskProperties answers GET
// /v1/drivers/{name}/raid/logical_disk_properties (API 1.12).
func (s *Server) raidDiskProperties(c *fiber.Ctx) error {
	if minor(c) < v12RAIDConfig {
		return notAcceptable("")
	}
	name := param(c, "name")
	if _, err := s.hardwareType(name); err != nil {
		return notFound("The driver '%s' is unknown.", name)
	}
	return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte {
		b = append(b, '{')
		for i, p := range raidDiskProps {
			b = jsonwire.AppendKey(b, p[0], i == 0)
			b = jsonwire.AppendString(b, p[1])
		}
		return append(b, '}')
	})
}

// BIOS settings.

// biosRegistryFields are the members API 1.74 adds to a BIOS setting, in
// Ironic's order.
var biosRegistryFields = []string{"attribute_type", "allowable_values", "lower_bound", "max_length", "min_length",
	"read_only", "reset_required", "unique", "upper_bound"}

// biosFieldNames are the members ?fields= may name.
func biosFieldNames() []string {
	return append([]string{"created_at", "updated_at", "name", "value"}, biosRegistryFields...)
}

// appendBIOSSetting renders a setting: created_at, updated_at, the fields
// asked for, links to <nodes>/<node>/bios/<name>.
func appendBIOSSetting(b []byte, vw *view, st *store.BIOSSetting, node string, fields []string) []byte {
	b = append(b, `{"created_at":`...)
	b = jsonwire.AppendTime(b, st.CreatedAt)
	b = append(b, `,"updated_at":`...)
	b = jsonwire.AppendTimePtr(b, st.UpdatedAt)
	optInt := func(p *int64) []byte {
		if p == nil {
			return append(b, "null"...)
		}
		return fmt.Appendf(b, "%d", *p)
	}
	for _, f := range fields {
		if f == "created_at" || f == "updated_at" {
			continue
		}
		b = append(b, ',')
		b = jsonwire.AppendString(b, f)
		b = append(b, ':')
		switch f {
		case "name":
			b = jsonwire.AppendString(b, st.Name)
		case "value":
			b = jsonwire.AppendStringPtr(b, st.Value)
		case "attribute_type":
			b = jsonwire.AppendStringPtr(b, st.AttributeType)
		case "allowable_values":
			vals := st.AllowableValues
			if vals == nil {
				vals = []string{}
			}
			b = jsonwire.AppendStrings(b, vals)
		case "lower_bound":
			b = optInt(st.LowerBound)
		case "upper_bound":
			b = optInt(st.UpperBound)
		case "min_length":
			b = optInt(st.MinLength)
		case "max_length":
			b = optInt(st.MaxLength)
		case "read_only":
			b = jsonwire.AppendBoolPtr(b, st.ReadOnly)
		case "reset_required":
			b = jsonwire.AppendBoolPtr(b, st.ResetRequired)
		case "unique":
			b = jsonwire.AppendBoolPtr(b, st.Unique)
		}
	}
	b = append(b, `,"links":`...)
	b = appendLinksParts(b, vw.escBase, "nodes/", node, "/bios/"+st.Name)
	return append(b, '}')
}

// routedFrom answers a request below API minor version v as Ironic's
// router answers a path it does not know yet (webob's 404).
func routedFrom(c *fiber.Ctx, v int) error {
	if minor(c) < v {
		return webobNotFound()
	}
	return nil
}

// listBIOS answers GET /v1/nodes/{ident}/bios.
func (s *Server) listBIOS(c *fiber.Ctx) error {
	if err := routedFrom(c, v40BiosInterface); err != nil {
		return err
	}
	v := minor(c)
	ident := param(c, "ident")
	detail, err := queryBool(c, "detail")
	if err != nil {
		return err
	}
	fields, hasFields := parseFields(c)
	if detail != nil && v < v74BiosRegistry {
		return badRequest("Invalid query parameter ?detail=%s received.", pyBool(*detail))
	}
	if hasFields && v < v74BiosRegistry {
		return badRequest("Invalid query parameter ?fields=%s received.", pyList(fields))
	}
	if hasFields && detail != nil && *detail {
		return badRequest("Can not specify ?detail=True and fields in the same request.")
	}
	switch {
	case detail != nil && *detail:
		fields = append([]string{"name", "value"}, biosRegistryFields...)
	case !hasFields:
		fields = []string{"name", "value"}
	default:
		// Ironic 21.4 answers 500 for an unknown name here.
		var bad []string
		for _, f := range fields {
			if !slices.Contains(biosFieldNames(), f) {
				bad = append(bad, f)
			}
		}
		if len(bad) > 0 {
			return fieldsNotValid(bad)
		}
	}
	n, err := s.loadNode(c, ident)
	if err != nil {
		return err
	}
	settings, err := s.Store.BIOSSettings(c.UserContext(), n.UUID)
	if errors.Is(err, store.ErrNotFound) {
		return nodeNotFound(ident)
	} else if err != nil {
		return fmt.Errorf("read BIOS settings of node %s: %w", n.UUID, err)
	}
	vw := s.view(c)
	return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte {
		b = append(b, `{"bios":[`...)
		for i := range settings {
			if i > 0 {
				b = append(b, ',')
			}
			// Links name the node as the request did, as Ironic's do.
			b = appendBIOSSetting(b, vw, &settings[i], ident, fields)
		}
		return append(b, "]}"...)
	})
}

// getBIOS answers GET /v1/nodes/{ident}/bios/{name}.
func (s *Server) getBIOS(c *fiber.Ctx) error {
	if err := routedFrom(c, v40BiosInterface); err != nil {
		return err
	}
	if err := unexpectedArgs(c); err != nil {
		return err
	}
	n, err := s.loadNode(c, param(c, "ident"))
	if err != nil {
		return err
	}
	name := param(c, "name")
	st, err := s.Store.BIOSSettingNamed(c.UserContext(), n.UUID, name)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("Node %s doesn't have a BIOS setting '%s'", n.UUID, name)
	} else if err != nil {
		return fmt.Errorf("read BIOS setting %s of node %s: %w", name, n.UUID, err)
	}
	fields := []string{"name", "value"}
	if minor(c) >= v74BiosRegistry {
		fields = append(fields, biosRegistryFields...)
	}
	vw := s.view(c)
	return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte {
		b = append(b, '{')
		b = jsonwire.AppendString(b, name)
		b = append(b, ':')
		b = appendBIOSSetting(b, vw, &st, n.UUID, fields)
		return append(b, '}')
	})
}
