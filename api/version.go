package api

import (
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// Microversions.
//
// ferric advertises the range [1.1, 1.96], the range of Ironic 29 (2025.1),
// whose exchanges are in api/testdata/ironic29-wire (every version past 1.82
// has at least one: TestGolden29EveryVersion); Ironic 21.4's (up to 1.82) are
// in api/testdata/ironic-wire. Past 1.82: child nodes (1.83),
// continue_inspection (1.84), unhold (1.85), the firmware interface (1.86),
// servicing (1.87), port names (1.88), virtual media (1.89, 1.93), OVN VTEP
// switches (1.90), no .json suffix stripping (1.91), runbooks (1.92), ports
// created by node name (1.94), disable_power_off (1.95) and inspection rules
// (1.96). Up to 1.82 the node, port, chassis and driver representations and
// behaviour ferric implements in full: every node field up to shard (1.82) is
// stored and rendered with Ironic's version gating, the port fields up to
// is_smartnic (1.53), drivers with type/detail (1.30) and fields (1.77), the
// deploy/undeploy verbs (1.73), deploy_steps (1.69), configdrive objects
// (1.56, 1.59), node history (1.78), the shard filter (1.82), RAID (1.12:
// target_raid_config checked by the node's RAID interface, logical disk
// properties; the fake and agent interfaces' RAID steps), BIOS settings
// (1.40, registry fields 1.74; the fake BIOS interface's steps) and deploy
// templates (1.55; their steps run by the deploys whose instance traits
// name them).
// python-ironicclient 5.0.1 asks for 1.78 and gets it; gophercloud and
// Metal3 ask for fixed versions at or below 1.82.
//
// Not implemented at any version (ferric has no such resource), answered with
// Ironic's 404 for an unknown path unless noted:
//   - 1.22 ramdisk lookup and heartbeat (ferric-agent has its own endpoints)
//   - 1.29 inject NMI
//   - 1.54 events, 1.63 indicators, 1.76 PUT .../states/boot_mode and
//     .../states/secure_boot
//   - a console one can connect to: GET/PUT .../states/console answer as
//     for the fake (enabled, empty console_info) and no-console (400)
//     interfaces, the only ones the hardware types offer (no IPMI SOL)
//   - 1.70 disable_ramdisk=true is refused (400)
const (
	minMinor = 1
	maxMinor = 96
)

// Minor versions that gate behaviour (Ironic's versions.MINOR_*).
const (
	v2AvailableState      = 2
	v3DriverInternalInfo  = 3
	v4ManageableState     = 4
	v5NodeName            = 5
	v6InspectState        = 6
	v7NodeCleanStep       = 7
	v8Fields              = 8
	v9ProvisionFilter     = 9
	v10UnrestrictedName   = 10
	v11EnrollState        = 11
	v12RAIDConfig         = 12
	v13AbortVerb          = 13
	v14StatesLinks        = 14
	v15ManualClean        = 15
	v16DriverFilter       = 16
	v17AdoptVerb          = 17
	v18PortInternalInfo   = 18
	v19PortNetFields      = 19
	v20NetworkInterface   = 20
	v21ResourceClass      = 21
	v22LookupHeartbeat    = 22
	v23Portgroups         = 23
	v24PortgroupSubctl    = 24
	v25UnsetChassis       = 25
	v27SoftPower          = 27
	v30DynamicDrivers     = 30
	v31DynamicInterfaces  = 31
	v32Volume             = 32
	v33StorageInterface   = 33
	v34PhysicalNetwork    = 34
	v35RebuildConfigDrive = 35
	v37Traits             = 37
	v38Rescue             = 38
	v39InspectWait        = 39
	v40BiosInterface      = 40
	v41InspectAbort       = 41
	v42Fault              = 42
	v43Detail             = 43
	v44DeployStep         = 44
	v45ResetInterfaces    = 45
	v46ConductorGroup     = 46
	v47AutomatedClean     = 47
	v48Protected          = 48
	v49Conductors         = 49
	v50Owner              = 50
	v51Description        = 51
	v52Allocations        = 52
	v53SmartNIC           = 53
	v54Events             = 54
	v55DeployTemplates    = 55
	v56BuildConfigDrive   = 56
	v59ConfigDriveVendor  = 59
	v61Retired            = 61
	v64LLCNetworkType     = 64
	v65Lessee             = 65
	v66NetworkData        = 66
	v69DeploySteps        = 69
	v70DisableRamdisk     = 70
	v73DeployVerbs        = 73
	v74BiosRegistry       = 74
	v75BootMode           = 75
	v77DriverFields       = 77
	v78History            = 78
	v81Inventory          = 81
	v82Shard              = 82
	v83ParentNode         = 83
	v84ContinueInspection = 84
	v85Unhold             = 85
	v86Firmware           = 86
	v87Servicing          = 87
	v88PortName           = 88
	v89AttachVMedia       = 89
	v90OVNVTEP            = 90 // ovn vtep switch keys in local_link_connection
	v91NoJSONSuffix       = 91 // ".json" no longer stripped from paths
	v92Runbooks           = 92
	v93GetVMedia          = 93
	v94PortNodeName       = 94
	v95DisablePowerOff    = 95
	v96InspectionRules    = 96
)

var (
	minVersionString = "1." + strconv.Itoa(minMinor)
	maxVersionString = "1." + strconv.Itoa(maxMinor)
)

// localsVersion is the Fiber locals key holding the negotiated minor version.
type localsKey uint8

const localsVersion localsKey = 0

// minor returns the microversion negotiated for this request.
func minor(c *fiber.Ctx) int {
	if v, ok := c.Locals(localsVersion).(int); ok {
		return v
	}
	return minMinor
}

// negotiate is the middleware of / and /v1 (Ironic 29 negotiates on its
// root too; 21.4 did not): it parses the requested microversion,
// sets the version headers on every response and refuses unsupported
// versions with 406 exactly as Ironic does.
func (s *Server) negotiate(c *fiber.Ctx) error {
	p := c.Path()
	shape := shapeWebob
	if p == "/" || p == "/v1" || p == "/v1/" {
		shape = shapeFault
	}
	major, min, ok := parseVersion(
		string(c.Request().Header.Peek("OpenStack-API-Version")),
		string(c.Request().Header.Peek(hdrVersion)))
	if !ok {
		return &apiError{status: fiber.StatusNotAcceptable, shape: shape, bare: true,
			msg: "Invalid value for X-OpenStack-Ironic-API-Version header"}
	}
	c.Set(hdrMinVersion, minVersionString)
	c.Set(hdrMaxVersion, maxVersionString)
	ver := strconv.Itoa(major) + "." + strconv.Itoa(min)
	switch {
	case major != 1:
		return &apiError{status: fiber.StatusNotAcceptable, shape: shape,
			msg: "Mutually exclusive versions requested. Version " + ver +
				" requested but not supported by this service. The supported version range is: [" +
				minVersionString + ", " + maxVersionString + "]."}
	case min < minMinor || min > maxMinor:
		return &apiError{status: fiber.StatusNotAcceptable, shape: shape,
			msg: "Version " + ver + " was requested but the minor version is not supported by this service. " +
				"The supported version range is: [" + minVersionString + ", " + maxVersionString + "]."}
	}
	c.Set(hdrVersion, ver)
	c.Locals(localsVersion, min)
	return c.Next()
}

// jsonSuffixStripped tells whether Ironic's JsonExtensionMiddleware
// drops a ".json" suffix from the request's path (/v1/nodes/foo.json is
// node foo's): only when the legacy version header asks for a number
// below 1.91 (not "latest", not OpenStack-API-Version, not without one).
func jsonSuffixStripped(c *fiber.Ctx) bool {
	raw := strings.TrimSpace(string(c.Request().Header.Peek(hdrVersion)))
	if raw == "" || strings.EqualFold(raw, "latest") {
		return false
	}
	_, min, ok := parseVersion("", raw)
	return ok && min > 0 && min < v91NoJSONSuffix
}

// parseVersion reads the requested version from "OpenStack-API-Version:
// baremetal X.Y" (preferred, as microversion_parse does) or the legacy
// X-OpenStack-Ironic-API-Version header. Absent means the minimum; "latest"
// the maximum. ok is false for a malformed value.
func parseVersion(generic, legacy string) (major, minor int, ok bool) {
	raw, found := "", false
	for _, part := range strings.Split(generic, ",") {
		f := strings.Fields(part)
		if len(f) == 2 && strings.EqualFold(f[0], "baremetal") {
			raw, found = f[1], true
			break
		}
	}
	if !found {
		raw = strings.TrimSpace(legacy)
		if raw == "" {
			return 1, minMinor, true
		}
	}
	if strings.EqualFold(raw, "latest") {
		return 1, maxMinor, true
	}
	maj, mnr, cut := strings.Cut(raw, ".")
	if !cut {
		return 0, 0, false
	}
	a, err1 := strconv.Atoi(strings.TrimSpace(maj))
	b, err2 := strconv.Atoi(strings.TrimSpace(mnr))
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return a, b, true
}
