package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ferric-project/ferric/cmd/ferric/devtemporal"
	"github.com/ferric-project/ferric/drivers/fake"
	"github.com/ferric-project/ferric/inspection/rules"
)

// config is every role's configuration, parsed from flags with FERRIC_*
// environment defaults.
type config struct {
	role string
	args []string

	dataDir        string
	databaseURL    string
	temporalAddr   string
	temporalUIAddr string
	namespace      string
	taskQueue      string
	groups         string // conductor groups the worker serves, comma-separated ("" = the empty group)
	apiAddr        string
	publicURL      string
	conductor      string
	fakeDrivers    bool
	logFormat      string
	logLevel       string
	pollInterval   time.Duration
	ipmiMinGap     time.Duration
	workerSlots    int
	eagerStart     bool
	syncEvery      time.Duration
	syncForce      bool
	syncConc       int
	reconcileEvery time.Duration
	reconcileIdle  time.Duration
	addPorts       string
	secretsKeyFile string // key file sealing driver_info secrets at rest ("" = in clear; dev: <data-dir>/secrets.key)
	rotateSecrets  bool   // migrate: reseal every node's secrets under the key file's first key
	pprofAddr      string
	healthAddr     string // probes listener of roles without an API ("" = none)
	metricsAddr    string // a listener of its own for /metrics ("" = none; the API's listener serves it too)
	otlpEndpoint   string // OTLP/gRPC trace collector URL ("" = no traces)
	// traceBatch is how long finished spans wait to be sent together
	// (0: 5 s; tests shorten it).
	traceBatch time.Duration

	// ferric dev's embedded Temporal server.
	temporalPersistence string // "sqlite", "postgres" or "" (keep what the data folder has, else the default)
	temporalShards      int    // history shards of a new store (0 = the backend's default)
	temporalDatabase    string // PostgreSQL database of Temporal's state; visibility is <name>_visibility

	// Agent-based deploy and the boot server.
	tftpAddr       string        // boot server TFTP listen address ("" = no TFTP)
	bootHTTPAddr   string        // boot server HTTP listen address ("" = no HTTP)
	bootPublicURL  string        // how nodes reach the boot HTTP side ("" = from the request)
	ipxeDir        string        // iPXE binaries served over TFTP
	ramdiskDir     string        // deploy kernel (vmlinuz) and initramfs
	agentAPIURL    string        // ferric.api_url= on the ramdisk's kernel command line
	agentHeartbeat time.Duration // idle heartbeat period given to agents at lookup
	callbackWait   time.Duration // bound on deploy, clean and inspect wait
	automatedClean bool          // default of nodes' automated_clean (direct deploy)

	// Authentication (auth.go) and TLS.
	auth authConfig

	// The boot server's DHCP server (roles boot, all, dev).
	dhcp          dhcpConfig
	dhcpLeaseTime time.Duration

	// hardware, when set (tests), is the fake-hardware state the registry
	// uses instead of a new one.
	hardware *fake.Hardware
	// inspRulesFile and inspRulesMask: the built-in inspection rules and
	// the secrets mask, as given; inspRules: what they say (loaded by
	// parse for the roles that run a worker; the worker uses only
	// inspRules, so a config edited after parse sets that).
	inspRulesFile, inspRulesMask string
	inspRules                    rules.Config
}

// runsWorker reports whether a role runs the worker (the manager).
func runsWorker(role string) bool { return role == "worker" || role == "all" || role == "dev" }

// inspectionRules reads the built-in inspection rules file and the mask
// setting: a mask it does not know, or a file that cannot be read or does
// not parse, is an error of the command line.
func (c *config) inspectionRules() (rules.Config, error) {
	mask, err := rules.ParseMask(c.inspRulesMask)
	if err != nil {
		return rules.Config{}, err
	}
	out := rules.Config{Mask: mask}
	if c.inspRulesFile == "" {
		return out, nil
	}
	data, err := os.ReadFile(c.inspRulesFile)
	if err != nil {
		return out, fmt.Errorf("inspection built-in rules: %w", err)
	}
	if out.BuiltIn, err = rules.ParseBuiltIn(data); err != nil {
		return out, fmt.Errorf("%s: %w", c.inspRulesFile, err)
	}
	return out, nil
}

func parse(role string, args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	c := config{role: role}
	fs := flag.NewFlagSet("ferric "+role, flag.ContinueOnError)
	fs.SetOutput(stderr)
	str := func(p *string, name, env, def, usage string) {
		if v := getenv(env); v != "" {
			def = v
		}
		fs.StringVar(p, name, def, usage+" ($"+env+")")
	}
	boolean := func(p *bool, name, env string, def bool, usage string) {
		if v, err := strconv.ParseBool(getenv(env)); err == nil {
			def = v
		}
		fs.BoolVar(p, name, def, usage+" ($"+env+")")
	}
	duration := func(p *time.Duration, name, env string, def time.Duration, usage string) {
		if v, err := time.ParseDuration(getenv(env)); err == nil {
			def = v
		}
		fs.DurationVar(p, name, def, usage+" ($"+env+")")
	}
	integer := func(p *int, name, env string, def int, usage string) {
		if v, err := strconv.Atoi(getenv(env)); err == nil {
			def = v
		}
		fs.IntVar(p, name, def, usage+" ($"+env+")")
	}
	dev := role == "dev"
	str(&c.dataDir, "data-dir", "FERRIC_DATA_DIR", ".data", "folder for the dev stack's Temporal and PostgreSQL data")
	str(&c.databaseURL, "database-url", "FERRIC_DATABASE_URL", "", "PostgreSQL URL (dev: empty starts a private cluster in the data folder)")
	str(&c.temporalAddr, "temporal-address", "FERRIC_TEMPORAL_ADDRESS", "127.0.0.1:7233", "Temporal frontend host:port (dev: where the embedded server listens)")
	str(&c.temporalUIAddr, "temporal-ui-address", "FERRIC_TEMPORAL_UI_ADDRESS", "127.0.0.1:8233", "dev: Temporal Web UI host:port (empty disables)")
	str(&c.namespace, "namespace", "FERRIC_TEMPORAL_NAMESPACE", "default", "Temporal namespace")
	str(&c.taskQueue, "task-queue", "FERRIC_TASK_QUEUE", "ferric", "Temporal task queue")
	str(&c.groups, "conductor-groups", "FERRIC_CONDUCTOR_GROUPS", "", "worker: conductor groups served, comma-separated; each group is the task queue <task-queue>-<group>, the empty group <task-queue> itself (list it as an empty item, e.g. \",a\"; default: the empty group only)")
	str(&c.apiAddr, "api-address", "FERRIC_API_ADDRESS", "127.0.0.1:6385", "API listen host:port")
	str(&c.publicURL, "public-url", "FERRIC_PUBLIC_URL", "", "API URL used in links (default: from the request)")
	str(&c.conductor, "conductor", "FERRIC_CONDUCTOR", "ferric", "conductor name shown in the API")
	str(&c.logFormat, "log-format", "FERRIC_LOG_FORMAT", map[bool]string{true: "text", false: "json"}[dev], "log format: json or text")
	str(&c.logLevel, "log-level", "FERRIC_LOG_LEVEL", "info", "log level: debug, info, warn, error")
	str(&c.metricsAddr, "metrics-address", "FERRIC_METRICS_ADDRESS", "", "serve Prometheus metrics at /metrics on this host:port (empty: none; roles with the API also serve them on the API listener)")
	str(&c.otlpEndpoint, "otlp-endpoint", "FERRIC_OTLP_ENDPOINT", "", "send OpenTelemetry traces (API request, workflow, activity, driver call) to this OTLP/gRPC collector: http://host:4317 (plain) or https://host:4317 (TLS); empty: no traces")
	str(&c.pprofAddr, "pprof-address", "FERRIC_PPROF_ADDRESS", "", "serve Go's pprof profiles on this host:port (empty: off)")
	str(&c.healthAddr, "health-address", "FERRIC_HEALTH_ADDRESS", "", "serve the /healthz and /readyz probes on this host:port, for roles without an API (deployments/ use :6386 for worker, :6387 for boot; roles with an API answer them on the API address; empty: off)")
	boolean(&c.fakeDrivers, "fake-drivers", "FERRIC_FAKE_DRIVERS", dev, "enable the fake-hardware type")
	boolean(&c.eagerStart, "eager-start", "FERRIC_EAGER_START", true, "start workflows eagerly on the in-process worker (api+worker in one process)")
	duration(&c.pollInterval, "power-poll-interval", "FERRIC_POWER_POLL_INTERVAL", time.Second, "pause between BMC power state reads while waiting")
	duration(&c.ipmiMinGap, "ipmi-min-command-interval", "FERRIC_IPMI_MIN_COMMAND_INTERVAL", 0, "minimum pause between two commands to one BMC")
	duration(&c.syncEvery, "power-sync-interval", "FERRIC_POWER_SYNC_INTERVAL", time.Minute, "power state sync interval (0 disables)")
	boolean(&c.syncForce, "power-sync-force", "FERRIC_POWER_SYNC_FORCE", false, "on mismatch, force the recorded power state onto the hardware")
	duration(&c.reconcileEvery, "reconcile-interval", "FERRIC_RECONCILE_INTERVAL", time.Minute, "how often nodes left in a busy state by a lost operation are looked for and failed (0 disables)")
	duration(&c.reconcileIdle, "reconcile-idle", "FERRIC_RECONCILE_IDLE", time.Minute, "how long a node in a busy state must go unwritten before the reconciler checks that an operation still holds it")
	str(&c.secretsKeyFile, "secrets-key-file", "FERRIC_SECRETS_KEY_FILE", "", "file of keys sealing driver_info secrets (BMC passwords, SSH keys) in the database: lines \"<id> <base64 32-byte key>\", the first seals (dev default: <data-dir>/secrets.key, created when missing)")
	boolean(&c.rotateSecrets, "rotate-secrets", "FERRIC_ROTATE_SECRETS", false, "migrate: reseal every node's driver_info secrets under the key file's first key (rotation; also seals secrets stored in clear)")
	str(&c.addPorts, "inspect-add-ports", "FERRIC_INSPECT_ADD_PORTS", "pxe", "which NICs inspection makes ports of: all, active (with an IP address), pxe (the one the node booted from) or disabled")
	str(&c.inspRulesFile, "inspection-built-in-rules", "FERRIC_INSPECTION_BUILT_IN_RULES", "", "YAML file of built-in inspection rules the worker runs after the stored ones (Ironic's [inspection_rules]built_in_rules; empty: none)")
	str(&c.inspRulesMask, "inspection-rules-mask", "FERRIC_INSPECTION_RULES_MASK", "always", "which inspection rules read the inspection data with its secrets masked: always, never or sensitive (all but sensitive rules)")
	integer(&c.syncConc, "power-sync-concurrency", "FERRIC_POWER_SYNC_CONCURRENCY", 128, "BMC reads in flight during a power sync pass")
	bootTFTP, bootHTTP := "", ""
	switch role {
	case "dev":
		bootTFTP, bootHTTP = "127.0.0.1:6969", "127.0.0.1:8080" // QEMU user networking intercepts port 69
	case "boot":
		bootTFTP, bootHTTP = ":69", ":8080"
	}
	str(&c.tftpAddr, "tftp-address", "FERRIC_TFTP_ADDRESS", bootTFTP, "boot server TFTP listen host:port (roles boot, all, dev; empty: no TFTP)")
	str(&c.bootHTTPAddr, "boot-http-address", "FERRIC_BOOT_HTTP_ADDRESS", bootHTTP, "boot server HTTP listen host:port for iPXE scripts, kernel and initramfs (empty: no HTTP)")
	str(&c.bootPublicURL, "boot-public-url", "FERRIC_BOOT_PUBLIC_URL", "", "URL nodes use to reach the boot server's HTTP side, e.g. http://10.0.2.2:8080 (default: from the request)")
	str(&c.ipxeDir, "ipxe-dir", "FERRIC_IPXE_DIR", "/usr/lib/ipxe", "folder of the iPXE binaries served over TFTP")
	str(&c.ramdiskDir, "ramdisk-dir", "FERRIC_RAMDISK_DIR", "ramdisk/out", "folder of the deploy ramdisk (vmlinuz, initramfs; make ramdisk)")
	str(&c.agentAPIURL, "agent-api-url", "FERRIC_AGENT_API_URL", "http://10.0.2.2:6385", "API URL the ramdisk agent calls (QEMU user networking: host is 10.0.2.2)")
	duration(&c.callbackWait, "agent-callback-timeout", "FERRIC_AGENT_CALLBACK_TIMEOUT", 30*time.Minute, "how long deploy, clean and inspect wait for the ramdisk agent to call back before the operation fails (Ironic's deploy_callback_timeout)")
	duration(&c.agentHeartbeat, "agent-heartbeat-interval", "FERRIC_AGENT_HEARTBEAT_INTERVAL", 5*time.Second, "idle heartbeat period of ramdisk agents (also their delay in picking up a command)")
	boolean(&c.automatedClean, "automated-clean", "FERRIC_AUTOMATED_CLEAN", true, "erase disk metadata through the agent on provide and undeploy (direct deploy; nodes' automated_clean overrides)")
	str(&c.temporalPersistence, "temporal-persistence", "FERRIC_TEMPORAL_PERSISTENCE", "", "dev: where the embedded Temporal server keeps workflow history: postgres (databases in the dev PostgreSQL server) or sqlite (files in the data folder); empty keeps what the data folder has, else "+defaultTemporalPersistence)
	integer(&c.temporalShards, "temporal-history-shards", "FERRIC_TEMPORAL_HISTORY_SHARDS", 0, "dev: history shards of a new Temporal store (0 = 1 on sqlite, "+strconv.Itoa(devtemporal.DefaultPostgresShards)+" on postgres; an existing store keeps its own)")
	str(&c.temporalDatabase, "temporal-database", "FERRIC_TEMPORAL_DATABASE", devtemporal.DefaultDatabase, "dev, postgres persistence: database of Temporal's state; visibility goes to <name>_visibility")
	dhcpMode := "off"
	if role == "boot" {
		dhcpMode = "proxy"
	}
	var dhcpAddress, dhcpSubnet, dhcpRange, dhcpRouters, dhcpDNS string
	str(&c.dhcp.mode, "dhcp-mode", "FERRIC_DHCP_MODE", dhcpMode, "boot server DHCP: proxy (answer PXE clients beside the network's DHCP server), full (also lease addresses from -dhcp-range) or off (an external DHCP server chainloads ferric's iPXE)")
	str(&c.dhcp.iface, "dhcp-interface", "FERRIC_DHCP_INTERFACE", "", "provisioning interface the DHCP server listens on, by name (e.g. br0)")
	str(&dhcpAddress, "dhcp-address", "FERRIC_DHCP_ADDRESS", "", "provisioning interface the DHCP server listens on, by its IPv4 address (also the boot server address given to clients)")
	str(&dhcpSubnet, "dhcp-subnet", "FERRIC_DHCP_SUBNET", "", "full mode: the provisioning subnet, e.g. 10.0.0.0/24")
	str(&dhcpRange, "dhcp-range", "FERRIC_DHCP_RANGE", "", "full mode: addresses leased, FIRST-LAST, e.g. 10.0.0.100-10.0.0.200")
	str(&dhcpRouters, "dhcp-router", "FERRIC_DHCP_ROUTER", "", "full mode: default gateways announced, comma-separated")
	str(&dhcpDNS, "dhcp-dns", "FERRIC_DHCP_DNS", "", "full mode: DNS servers announced, comma-separated")
	duration(&c.dhcpLeaseTime, "dhcp-lease-time", "FERRIC_DHCP_LEASE_TIME", time.Hour, "full mode: lease time")
	boolean(&c.dhcp.bootUnknown, "dhcp-boot-unknown", "FERRIC_DHCP_BOOT_UNKNOWN", false, "give a boot offer to MACs of no enrolled port, which then boot the deploy ramdisk (discovery); off: only enrolled machines network-boot")
	str(&c.dhcp.biosFile, "dhcp-bios-file", "FERRIC_DHCP_BIOS_FILE", "undionly.kpxe", "iPXE binary in -ipxe-dir for legacy BIOS PXE clients (TFTP)")
	str(&c.dhcp.uefiFile, "dhcp-uefi-file", "FERRIC_DHCP_UEFI_FILE", "snponly.efi", "iPXE binary in -ipxe-dir for UEFI x86-64 clients (TFTP, or HTTP for UEFI HTTP boot); ipxe.efi carries its own NIC drivers")
	str(&c.dhcp.arm64File, "dhcp-arm64-file", "FERRIC_DHCP_ARM64_FILE", "snponly-arm64.efi", "iPXE binary in -ipxe-dir for arm64 UEFI clients (offered only when the file exists)")
	integer(&c.workerSlots, "worker-slots", "FERRIC_WORKER_SLOTS", 0, "max concurrent activities and workflow tasks per worker (0 = SDK default)")
	authFlags(&c.auth, str, boolean, duration, integer, getenv)
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	c.args = fs.Args()
	switch role {
	case "dev", "api", "worker", "boot", "all", "migrate", "testdb":
	default:
		return config{}, fmt.Errorf("unknown role %q (want dev, api, worker, boot, all, migrate or testdb)", role)
	}
	switch c.addPorts {
	case "all", "active", "pxe", "disabled":
	default:
		return config{}, fmt.Errorf("-inspect-add-ports %q: want all, active, pxe or disabled", c.addPorts)
	}
	switch c.temporalPersistence {
	case "", persistenceSQLite, persistencePostgres:
	default:
		return config{}, fmt.Errorf("-temporal-persistence %q: want %s or %s", c.temporalPersistence, persistencePostgres, persistenceSQLite)
	}
	if err := parseDHCP(&c.dhcp, dhcpAddress, dhcpSubnet, dhcpRange, dhcpRouters, dhcpDNS); err != nil {
		return config{}, err
	}
	if role != "dev" && role != "testdb" && c.databaseURL == "" {
		return config{}, fmt.Errorf("%s needs -database-url or FERRIC_DATABASE_URL", role)
	}
	if err := c.auth.check(role, c.apiAddr); err != nil {
		return config{}, err
	}
	if runsWorker(role) {
		var err error
		if c.inspRules, err = c.inspectionRules(); err != nil {
			return config{}, err
		}
	}
	return c, nil
}

// conductorGroups are the conductor groups a worker serves (lower-cased, as
// the API stores them): the empty group when none is configured.
func (c *config) conductorGroups() []string {
	if strings.TrimSpace(c.groups) == "" {
		return []string{""}
	}
	var out []string
	for _, g := range strings.Split(c.groups, ",") {
		g = strings.ToLower(strings.TrimSpace(g))
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}
