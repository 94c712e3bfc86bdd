// Package api serves ferric's REST API: the OpenStack Ironic v1 API, wire
// compatible with python-ironicclient, gophercloud and Metal3.
//
// Reads and enrollment writes go to the store; every provisioning, power,
// management and vendor action starts a Temporal workflow by name (see
// package workflows) whose ID is the node lock. The API never talks to a BMC
// and never imports a driver implementation: it only uses the pure parts of
// *drivers.Registry (interface resolution and driver_info validation).
//
// Microversion support and the Ironic features ferric leaves out are listed
// in version.go.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/google/uuid"
	"github.com/valyala/fasthttp"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/ferric-project/ferric/api/auth"
	"github.com/ferric-project/ferric/api/health"
	"github.com/ferric-project/ferric/drivers"
	"github.com/ferric-project/ferric/drivers/inventory"
	"github.com/ferric-project/ferric/jsonwire"
	"github.com/ferric-project/ferric/store"
	"github.com/ferric-project/ferric/workflows/contract"
)

// Consumer-side views of the store; *store.Store satisfies all of them.
type (
	// NodeReader reads nodes.
	NodeReader interface {
		Node(ctx context.Context, ident string) (store.Node, error)
		ListNodes(ctx context.Context, q store.ListNodes) ([]store.Node, error)
	}
	// NodeWriter enrolls, updates and deletes nodes.
	NodeWriter interface {
		CreateNode(ctx context.Context, n store.Node) (store.Node, error)
		UpdateNode(ctx context.Context, n store.Node) (store.Node, error)
		DeleteNode(ctx context.Context, uuid string) error
	}
	// NodeHistory reads and appends node history events.
	NodeHistory interface {
		NodeEvents(ctx context.Context, uuid string) ([]store.Event, error)
		AddEvent(ctx context.Context, e store.Event) error
	}
	// PortReader reads ports.
	PortReader interface {
		Port(ctx context.Context, uuid string) (store.Port, error)
		PortByName(ctx context.Context, name string) (store.Port, error)
		PortByAddress(ctx context.Context, mac string) (store.Port, error)
		ListPorts(ctx context.Context, q store.ListPorts) ([]store.Port, error)
	}
	// PortWriter creates, updates and deletes ports.
	PortWriter interface {
		CreatePort(ctx context.Context, p store.Port) (store.Port, error)
		UpdatePort(ctx context.Context, p store.Port) (store.Port, error)
		DeletePort(ctx context.Context, uuid string) error
	}
	// PortgroupStore reads and creates port groups; their changes run
	// under the node lock (NodeLocker).
	PortgroupStore interface {
		Portgroup(ctx context.Context, ident string) (store.Portgroup, error)
		ListPortgroups(ctx context.Context, q store.ListPortgroups) ([]store.Portgroup, error)
		CreatePortgroup(ctx context.Context, g store.Portgroup) (store.Portgroup, error)
	}
	// VolumeStore reads and creates volume connectors and targets; their
	// changes run under the node lock (NodeLocker).
	VolumeStore interface {
		VolumeConnector(ctx context.Context, uuid string) (store.VolumeConnector, error)
		ListVolumeConnectors(ctx context.Context, q store.ListVolume) ([]store.VolumeConnector, error)
		CreateVolumeConnector(ctx context.Context, v store.VolumeConnector) (store.VolumeConnector, error)
		VolumeTarget(ctx context.Context, uuid string) (store.VolumeTarget, error)
		ListVolumeTargets(ctx context.Context, q store.ListVolume) ([]store.VolumeTarget, error)
		CreateVolumeTarget(ctx context.Context, v store.VolumeTarget) (store.VolumeTarget, error)
	}
	// NodeLocker runs a write in one transaction, in which
	// store.Queries.LockNodes holds nodes' rows (see lockedWrite).
	NodeLocker interface {
		InTx(ctx context.Context, fn func(q store.Queries) error) error
	}
	// ChassisReader reads chassis.
	ChassisReader interface {
		Chassis(ctx context.Context, uuid string) (store.Chassis, error)
		ListChassis(ctx context.Context, limit int, markerID int64, sortKey string, desc bool) ([]store.Chassis, error)
	}
	// ChassisWriter creates, updates and deletes chassis.
	ChassisWriter interface {
		CreateChassis(ctx context.Context, ch store.Chassis) (store.Chassis, error)
		UpdateChassis(ctx context.Context, ch store.Chassis) (store.Chassis, error)
		DeleteChassis(ctx context.Context, uuid string) error
	}
	// OperationWriter keeps what a provisioning request gave beyond its
	// verb (config drive, steps) for the workflow that runs it.
	OperationWriter interface {
		CreateOperation(ctx context.Context, op store.Operation) (store.Operation, error)
		DeleteOperation(ctx context.Context, id string) error
		LatestConfigDrive(ctx context.Context, nodeUUID string) (json.RawMessage, error)
		// TakeMediaRead takes what a virtual media read recorded.
		TakeMediaRead(ctx context.Context, readID string) ([]drivers.VirtualMedia, error)
	}
	// InventoryReader reads inspected inventories.
	InventoryReader interface {
		NodeInventory(ctx context.Context, nodeUUID string) (store.Inventory, error)
	}
	// RunbookStore keeps runbooks.
	RunbookStore interface {
		CreateRunbook(ctx context.Context, r store.Runbook) (store.Runbook, error)
		Runbook(ctx context.Context, uuid string) (store.Runbook, error)
		RunbookByName(ctx context.Context, name string) (store.Runbook, error)
		ListRunbooks(ctx context.Context, f store.RunbookFilter, limit int, markerID int64, sortKey string,
			desc bool) ([]store.Runbook, error)
		UpdateRunbook(ctx context.Context, r store.Runbook) (store.Runbook, error)
		DeleteRunbook(ctx context.Context, uuid string) error
	}
	// TemplateStore keeps deploy templates.
	TemplateStore interface {
		CreateDeployTemplate(ctx context.Context, t store.DeployTemplate) (store.DeployTemplate, error)
		DeployTemplate(ctx context.Context, uuid string) (store.DeployTemplate, error)
		DeployTemplateByName(ctx context.Context, name string) (store.DeployTemplate, error)
		ListDeployTemplates(ctx context.Context, limit int, markerID int64, sortKey string, desc bool) ([]store.DeployTemplate, error)
		DeployTemplatesNamed(ctx context.Context, names []string) ([]store.DeployTemplate, error)
		UpdateDeployTemplate(ctx context.Context, t store.DeployTemplate) (store.DeployTemplate, error)
		DeleteDeployTemplate(ctx context.Context, uuid string) error
	}
	// InspectionRuleStore keeps inspection rules.
	InspectionRuleStore interface {
		CreateInspectionRule(ctx context.Context, r store.InspectionRule) (store.InspectionRule, error)
		InspectionRule(ctx context.Context, uuid string) (store.InspectionRule, error)
		ListInspectionRules(ctx context.Context, l store.ListInspectionRules) ([]store.InspectionRule, error)
		UpdateInspectionRule(ctx context.Context, r store.InspectionRule) (store.InspectionRule, error)
		DeleteInspectionRule(ctx context.Context, uuid string) error
	}
	// BIOSReader reads nodes' BIOS settings.
	BIOSReader interface {
		BIOSSettings(ctx context.Context, nodeUUID string) ([]store.BIOSSetting, error)
		BIOSSettingNamed(ctx context.Context, nodeUUID, name string) (store.BIOSSetting, error)
	}
	// AllocationReader reads allocations.
	AllocationReader interface {
		Allocation(ctx context.Context, ident string) (store.Allocation, error)
		ListAllocations(ctx context.Context, l store.ListAllocations) ([]store.Allocation, error)
		AllocationOfNode(ctx context.Context, nodeUUID string) (store.Allocation, error)
	}
	// AllocationWriter creates, updates, backfills and deletes allocations;
	// the node-side checks run with the node's row locked.
	AllocationWriter interface {
		CreateAllocation(ctx context.Context, a store.Allocation) (store.Allocation, error)
		UpdateAllocation(ctx context.Context, a store.Allocation) (store.Allocation, error)
		BackfillAllocation(ctx context.Context, a store.Allocation, nodeUUID string, check store.BackfillCheck,
			msgOf func(error) string) (store.Allocation, error)
		DeleteAllocation(ctx context.Context, ident string, check store.ReleaseCheck) error
	}
	// Store is everything the API needs from the database.
	Store interface {
		AllocationReader
		AllocationWriter
		OperationWriter
		InventoryReader
		TemplateStore
		InspectionRuleStore
		RunbookStore
		BIOSReader
		NodeReader
		NodeWriter
		NodeHistory
		PortReader
		PortWriter
		PortgroupStore
		VolumeStore
		NodeLocker
		ChassisReader
		ChassisWriter
	}
)

// WorkflowClient starts and signals workflows by name; the Temporal SDK's
// client.Client satisfies it.
type WorkflowClient interface {
	ExecuteWorkflow(ctx context.Context, options client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, error)
	SignalWorkflow(ctx context.Context, workflowID, runID, signalName string, arg any) error
}

// WorkflowDescriber describes workflows and task queues; the Temporal SDK's
// client.Client satisfies it. A WorkflowClient that also is one lets the API
// see operations not yet picked up by a worker (a node's conductor group
// change waits for them) and list the live workers (GET /v1/conductors).
type WorkflowDescriber interface {
	DescribeWorkflowExecution(ctx context.Context, workflowID, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error)
	DescribeTaskQueue(ctx context.Context, taskQueue string, taskQueueType enumspb.TaskQueueType) (*workflowservice.DescribeTaskQueueResponse, error)
}

// Server holds the API's dependencies and configuration. Build it in main and
// call App; main decides Listen and shutdown. Store, Workflows and Drivers are
// required; the rest have defaults.
type Server struct {
	Store     Store
	Workflows WorkflowClient
	Drivers   *drivers.Registry
	Log       *slog.Logger
	// Agents serves the ramdisk agent's lookup and heartbeat (nil: both
	// answer as if no node expected an agent).
	Agents AgentStore
	// Inspection keeps the data of POST /v1/continue_inspection for the
	// node's inspection workflow (nil: every post answers 404).
	Inspection InspectionStore
	// Auth authenticates requests (nil: noauth, the API is open to anyone
	// who can reach it). See auth.go.
	Auth Authenticator
	// Policy is enforced on Keystone credentials (zero value: Ironic's
	// default policy).
	Policy auth.Policy
	// AgentHeartbeatInterval is the idle heartbeat period given to agents
	// at lookup (default 5 s).
	AgentHeartbeatInterval time.Duration

	// TaskQueue is where workflows are started (default contract.TaskQueue).
	TaskQueue string
	// EagerStart asks Temporal to hand new workflows to a worker in the same
	// process (set when the API and a worker share the process).
	EagerStart bool
	// Conductor is the name shown as the conductor of every node, as the
	// host of every driver and in NodeLocked errors (default "localhost").
	Conductor string
	// Health answers /readyz (nil: no dependency is checked and /readyz
	// answers ok). /healthz and /readyz need no credentials, as load
	// balancers and orchestrators probe them.
	Health *health.Checker
	// PublicURL is the externally visible base URL used in links and
	// Location headers, e.g. "https://metal.example.com:6385". Empty means
	// the request's scheme and Host.
	PublicURL string
	// MaxLimit caps page sizes (Ironic's [api]max_limit, default 1000).
	MaxLimit int
	// BodyLimit caps request bodies in bytes (default 114688, Ironic's:
	// oslo.middleware's max_request_body_size). Larger ones are answered
	// 413.
	BodyLimit int
	// ProvisionBodyLimit caps the body of PUT
	// /v1/nodes/{ident}/states/provision, which carries config drives
	// (default 16 MiB).
	ProvisionBodyLimit int
	// SyncTimeout bounds synchronous operations (boot device, sync vendor
	// passthru) that wait for a workflow's result (default 60 s).
	SyncTimeout time.Duration
	// BeginWait bounds how long a provisioning or power request waits for
	// its workflow's first state change before answering 202 anyway
	// (default 2 s).
	BeginWait time.Duration
	// LockWait bounds how long an operation that Ironic's conductor runs
	// under a node lock taken with retries (virtual media) waits for the
	// lock another operation holds before answering NodeLocked (default
	// 2 s: Ironic's node_locked_retry_attempts, 3, node_locked_retry_interval,
	// 1 s, apart; negative: do not wait).
	LockWait time.Duration
	// AgentCommandWait bounds how long the heartbeat that wakes a workflow
	// from a wait state waits for the command the workflow then queues, so
	// the agent gets it at once (default 2 s; negative: do not wait).
	AgentCommandWait time.Duration
	// Metrics observes requests and started operations (nil: none).
	Metrics RequestMetrics
	// Tracer makes a span of every request, carried into the workflows it
	// starts (nil: none).
	Tracer trace.TracerProvider
	// MetricsHandler serves GET /metrics without credentials, as Ironic's
	// public routes are served (nil: no such route).
	MetricsHandler http.Handler
	bufs           sync.Pool
}

// Defaults.
const (
	defaultConductor          = "localhost"
	defaultMaxLimit           = 1000
	defaultBodyLimit          = 114688
	defaultProvisionBodyLimit = 16 << 20
	agentBodyLimit            = 4 << 20 // an inventory's largest size
	defaultSyncTimeout        = 60 * time.Second
	defaultLockWait           = 2 * time.Second
)

func (s *Server) conductor() string {
	if s.Conductor == "" {
		return defaultConductor
	}
	return s.Conductor
}

func (s *Server) maxLimit() int {
	if s.MaxLimit <= 0 {
		return defaultMaxLimit
	}
	return s.MaxLimit
}

func (s *Server) taskQueue() string {
	if s.TaskQueue == "" {
		return contract.TaskQueue
	}
	return s.TaskQueue
}

func (s *Server) beginWait() time.Duration {
	if s.BeginWait <= 0 {
		return 2 * time.Second
	}
	return s.BeginWait
}

func (s *Server) lockWait() time.Duration {
	switch {
	case s.LockWait < 0:
		return 0
	case s.LockWait == 0:
		return defaultLockWait
	}
	return s.LockWait
}

func (s *Server) syncTimeout() time.Duration {
	if s.SyncTimeout <= 0 {
		return defaultSyncTimeout
	}
	return s.SyncTimeout
}

// methodUnknown is the method under which requests with a method Fiber does
// not know are routed; originalMethod keys the method they came with among
// the request's user values.
const methodUnknown = "UNKNOWN"

type originalMethod struct{}

// requestMethod is the method the client sent.
func requestMethod(c *fiber.Ctx) string {
	if m, ok := c.Context().UserValue(originalMethod{}).(string); ok {
		return m
	}
	return c.Method()
}

// bodyLimits returns the body limit of most requests and that of PUT
// .../states/provision.
func (s *Server) bodyLimits() (general, provision int) {
	general, provision = s.BodyLimit, s.ProvisionBodyLimit
	if general <= 0 {
		general = defaultBodyLimit
	}
	if provision <= 0 {
		provision = defaultProvisionBodyLimit
	}
	return general, provision
}

// bodyLimit is the largest body accepted for method and path (a request
// URI; any query is ignored).
func (s *Server) bodyLimit(method, path []byte) int {
	general, provision := s.bodyLimits()
	path, _, _ = bytes.Cut(path, []byte("?"))
	if string(method) == fiber.MethodPut && bytes.HasPrefix(path, []byte("/v1/nodes/")) &&
		bytes.HasSuffix(bytes.TrimSuffix(path, []byte("/")), []byte("/states/provision")) {
		return provision
	}
	// An agent's heartbeat carries command results, an inspection's
	// inventory among them (up to inventory.MaxDocumentSize).
	if string(method) == fiber.MethodPost && (bytes.HasPrefix(path, []byte("/v1/heartbeat/")) ||
		bytes.HasPrefix(path, []byte("/v1/continue_inspection"))) {
		return max(general, agentBodyLimit)
	}
	return general
}

func (s *Server) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// hasVersion tells whether a request URI names an API version or one of
// ferric's own unversioned paths (/, /metrics, /healthz, /readyz,
// /schemas/): Ironic serves any other path as the default version's
// (/nodes is /v1/nodes), as its root controller routes it.
func hasVersion(uri []byte) bool {
	path, _, _ := bytes.Cut(uri, []byte("?"))
	first, _, _ := bytes.Cut(bytes.TrimPrefix(path, []byte("/")), []byte("/"))
	switch string(first) {
	case "", "v1", "metrics", "schemas", strings.TrimPrefix(health.LivePath, "/"), strings.TrimPrefix(health.ReadyPath, "/"):
		return true
	}
	// /v1.json is Ironic's v1 root in JSON (ferric answers 404, a public path).
	return bytes.HasPrefix(first, []byte("v1.")) || len(path) == 0 || path[0] != '/'
}

// withVersion is uri served as Ironic serves it: under /v1 unless it
// names a version (hasVersion).
func withVersion(uri []byte) []byte {
	if hasVersion(uri) {
		return uri
	}
	return append([]byte("/v1"), uri...)
}

// App builds the Fiber application serving the API.
func (s *Server) App() *fiber.App {
	general, provision := s.bodyLimits()
	app := fiber.New(fiber.Config{
		AppName:               "ferric",
		BodyLimit:             max(general, provision), // per request: HeaderReceived below
		ErrorHandler:          s.errorHandler(),
		DisableStartupMessage: true,
		ReadBufferSize:        16 << 10, // room for large auth headers
		ReadTimeout:           5 * time.Minute,
		IdleTimeout:           2 * time.Minute,
		RequestMethods:        append(slices.Clone(fiber.DefaultMethods), methodUnknown),
	})
	// Fiber answers a method it does not know (FOO, PROPFIND) with a
	// plain-text 400 before routing; such a request is routed as
	// methodUnknown instead, which no route serves, so that it gets the 405
	// (with Allow) or 404 in Ironic's shape that Ironic answers.
	route := app.Server().Handler
	app.Server().Handler = func(ctx *fasthttp.RequestCtx) {
		if m := ctx.Method(); !slices.Contains(fiber.DefaultMethods, string(m)) {
			ctx.SetUserValue(originalMethod{}, string(m))
			ctx.Request.Header.SetMethod(methodUnknown)
		}
		route(ctx)
	}
	// Each request gets the body limit of its route as soon as its headers
	// are read: fasthttp refuses a larger body before reading it.
	app.Server().HeaderReceived = func(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
		return fasthttp.RequestConfig{MaxRequestBodySize: s.bodyLimit(h.Method(), withVersion(h.RequestURI()))}
	}
	routes := newRouteTable(routeAccess())
	// First: every later handler, metrics and policy lookups included, sees
	// the path as served (/nodes is /v1/nodes).
	app.Use(func(c *fiber.Ctx) error {
		if p := c.Path(); !hasVersion([]byte(p)) {
			c.Path("/v1" + p)
		}
		if p, ok := strings.CutSuffix(strings.TrimRight(c.Path(), "/"), ".json"); ok && strings.HasPrefix(p, "/v1/") &&
			jsonSuffixStripped(c) {
			c.Path(p)
		}
		return c.Next()
	})
	if s.Tracer != nil || s.Metrics != nil {
		app.Use(s.observeRequests(routes)) // first: it sees every answer
	}
	app.Use(recover.New()) // a panic becomes a logged 500, not a dead process
	if s.MetricsHandler != nil {
		// Before authentication, request IDs and text checks: a scrape
		// needs none of them.
		app.Get("/metrics", adaptor.HTTPHandler(s.MetricsHandler))
	}
	app.Use(requestID)
	if s.Auth != nil {
		app.Use(s.authenticate(routes))
	}
	app.Use(checkRequestText)
	app.Get("/", s.negotiate, s.root)
	app.Get(health.LivePath, func(c *fiber.Ctx) error { return sendHealth(c, health.Live()) })
	app.Get(health.ReadyPath, func(c *fiber.Ctx) error {
		checker := s.Health
		if checker == nil {
			checker = &health.Checker{}
		}
		return sendHealth(c, checker.Ready(c.UserContext()))
	})
	// The inventory schema every inspection's document is validated against.
	app.Get("/schemas/"+inventory.SchemaFile, func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, "application/schema+json")
		return c.Send(inventory.Schema())
	})

	v1 := app.Group("/v1", s.negotiate)
	v1.Get("/", s.v1Root)

	// Nodes. Static segments are registered before :ident.
	v1.Get("/nodes", s.listNodes(false))
	v1.Post("/nodes", s.createNode)
	v1.Delete("/nodes", missingParam("node_ident"))
	v1.Patch("/nodes", missingParam("node_ident"))
	v1.Get("/nodes/detail", s.listNodes(true))
	v1.Get("/nodes/validate", s.validateNode)
	v1.Get("/nodes/:ident", s.getNode)
	v1.Patch("/nodes/:ident", s.patchNode)
	v1.Delete("/nodes/:ident", s.deleteNode)
	v1.Get("/nodes/:ident/validate", s.validateNode)
	v1.Get("/nodes/:ident/states", s.nodeStates)
	v1.Put("/nodes/:ident/states/provision", s.setProvisionState)
	v1.Put("/nodes/:ident/states/power", s.setPowerState)
	v1.Put("/nodes/:ident/states/raid", s.setRAIDConfig)
	v1.Get("/nodes/:ident/states/console", s.getConsole)
	v1.Put("/nodes/:ident/states/console", s.setConsole)
	v1.Get("/nodes/:ident/management/boot_device", s.getBootDevice)
	v1.Put("/nodes/:ident/management/boot_device", s.setBootDevice)
	v1.Get("/nodes/:ident/management/boot_device/supported", s.supportedBootDevices)
	v1.Put("/nodes/:ident/maintenance", s.setMaintenance(true))
	v1.Delete("/nodes/:ident/maintenance", s.setMaintenance(false))
	v1.Get("/nodes/:ident/ports", s.nodePorts(false))
	v1.Get("/nodes/:ident/ports/detail", s.nodePorts(true))
	v1.Get("/nodes/:ident/children", s.nodeChildren)
	v1.Get("/nodes/:ident/history", s.nodeHistory)
	v1.Get("/nodes/:ident/history/:event", s.nodeHistoryEvent)
	v1.Get("/nodes/:ident/inventory", s.nodeInventory)
	v1.Get("/nodes/:ident/firmware", s.listFirmware)
	v1.Get("/nodes/:ident/vmedia", s.getVMedia)
	v1.Post("/nodes/:ident/vmedia", s.attachVMedia)
	v1.Delete("/nodes/:ident/vmedia", s.detachVMedia)
	v1.Get("/nodes/:ident/bios", s.listBIOS)
	v1.Get("/nodes/:ident/bios/:name", s.getBIOS)
	v1.Get("/nodes/:ident/traits", s.getTraits)
	v1.Put("/nodes/:ident/traits", s.setTraits)
	v1.Put("/nodes/:ident/traits/:trait", s.addTrait)
	v1.Delete("/nodes/:ident/traits", s.deleteTraits)
	v1.Delete("/nodes/:ident/traits/:trait", s.deleteTraits)
	v1.Get("/nodes/:ident/vendor_passthru/methods", s.nodeVendorMethods)
	v1.Get("/nodes/:ident/portgroups", s.nodePortgroups(false))
	v1.Get("/nodes/:ident/portgroups/detail", s.nodePortgroups(true))
	v1.Post("/nodes/:ident/portgroups", subresourceForbidden(v24PortgroupSubctl))
	v1.Get("/nodes/:ident/vifs", s.listVIFs)
	v1.Post("/nodes/:ident/vifs", s.attachVIF)
	v1.Delete("/nodes/:ident/vifs/:vif", s.detachVIF)
	v1.Get("/nodes/:ident/volume", s.volumeRoot)
	v1.Get("/nodes/:ident/volume/connectors", listVolume(s, s.connectorKind))
	v1.Get("/nodes/:ident/volume/targets", listVolume(s, s.targetKind))
	v1.Post("/nodes/:ident/volume/connectors", subresourceForbidden(v32Volume))
	v1.Post("/nodes/:ident/volume/targets", subresourceForbidden(v32Volume))

	v1.Get("/nodes/:ident/allocation", nodeAllocationGate(s.getNodeAllocation))
	v1.Delete("/nodes/:ident/allocation", nodeAllocationGate(s.deleteNodeAllocation))

	// Allocations.
	v1.Get("/allocations", allocationsGate(s.listAllocations))
	v1.Post("/allocations", allocationsGate(s.createAllocation))
	v1.Get("/allocations/:ident", allocationsGate(s.getAllocation))
	v1.Patch("/allocations/:ident", allocationsGate(s.patchAllocation))
	v1.Delete("/allocations/:ident", allocationsGate(s.deleteAllocation))

	// Ports.
	addCRUD(v1, "/ports", crudRoutes{list: s.listPorts(false), create: s.createPort, detail: s.listPorts(true),
		get: s.getPort, patch: s.patchPort, del: s.deletePort, param: "uuid", missing: "port_uuid"})

	// Port groups.
	addCRUD(v1, "/portgroups", crudRoutes{list: s.listPortgroups(false), create: s.createPortgroup,
		detail: s.listPortgroups(true), get: s.getPortgroup, patch: s.patchPortgroup, del: s.deletePortgroup,
		param: "ident", missing: "portgroup_ident"})
	v1.Get("/portgroups/:ident/ports", s.portgroupPorts(false))
	v1.Get("/portgroups/:ident/ports/detail", s.portgroupPorts(true))
	v1.Post("/portgroups/:ident/ports", subresourceForbidden(v24PortgroupSubctl))

	// Volume connectors and targets.
	v1.Get("/volume", s.volumeRoot)
	v1.Get("/volume/connectors", listVolume(s, s.connectorKind))
	v1.Post("/volume/connectors", createVolume(s, s.connectorKind))
	v1.Get("/volume/connectors/:uuid", getVolume(s, s.connectorKind))
	v1.Patch("/volume/connectors/:uuid", patchVolume(s, s.connectorKind))
	v1.Delete("/volume/connectors/:uuid", deleteVolume(s, s.connectorKind))
	v1.Get("/volume/targets", listVolume(s, s.targetKind))
	v1.Post("/volume/targets", createVolume(s, s.targetKind))
	v1.Get("/volume/targets/:uuid", getVolume(s, s.targetKind))
	v1.Patch("/volume/targets/:uuid", patchVolume(s, s.targetKind))
	v1.Delete("/volume/targets/:uuid", deleteVolume(s, s.targetKind))
	// A single object through its parent (after the static .../detail
	// routes): Ironic's OperationNotPermitted.
	for _, m := range []string{fiber.MethodGet, fiber.MethodPatch, fiber.MethodDelete} {
		v1.Add(m, "/nodes/:ident/portgroups/:pg", subresourceForbidden(v24PortgroupSubctl))
		v1.Add(m, "/portgroups/:ident/ports/:port", subresourceForbidden(v24PortgroupSubctl))
		v1.Add(m, "/nodes/:ident/volume/connectors/:uuid", subresourceForbidden(v32Volume))
		v1.Add(m, "/nodes/:ident/volume/targets/:uuid", subresourceForbidden(v32Volume))
	}

	// Chassis.
	addCRUD(v1, "/chassis", crudRoutes{list: s.listChassis(false), create: s.createChassis,
		detail: s.listChassis(true), get: s.getChassis, patch: s.patchChassis, del: s.deleteChassis,
		param: "uuid", missing: "chassis_uuid"})
	v1.Get("/chassis/:uuid/nodes", s.chassisNodes(false))
	v1.Get("/chassis/:uuid/nodes/detail", s.chassisNodes(true))

	// Deploy templates (API 1.55), inspection rules (API 1.96), runbooks
	// (API 1.92), each behind its version gate.
	templateCatalog.register(s, v1, s.createTemplate, s.patchTemplate)
	inspectionRuleCatalog.register(s, v1, s.createInspectionRule, s.patchInspectionRule)
	runbookCatalog.register(s, v1, s.createRunbook, s.patchRunbook)

	// The ramdisk agent (no microversion needed, as in Ironic).
	v1.Get("/lookup", s.lookup)
	v1.Post("/heartbeat/:node", s.heartbeat)
	// The ramdisk's inspection callback (1.84; also at 1.1, which is what
	// ironic-python-agent sends: no version header).
	v1.Post("/continue_inspection", s.continueInspection)

	// Drivers, conductors, shards.
	v1.Get("/drivers", s.listDrivers)
	v1.Get("/drivers/:name", s.getDriver)
	v1.Get("/drivers/:name/properties", s.driverProperties)
	v1.Get("/drivers/:name/raid/logical_disk_properties", s.raidDiskProperties)
	v1.Get("/drivers/:name/vendor_passthru/methods", s.driverVendorMethods)
	v1.Get("/conductors", s.listConductors)
	v1.Get("/conductors/:hostname", s.getConductor)
	v1.Get("/shards", s.listShards)

	// Vendor passthru last: .../vendor_passthru/methods above wins over :method.
	for _, m := range []string{fiber.MethodGet, fiber.MethodPost, fiber.MethodPut, fiber.MethodPatch, fiber.MethodDelete} {
		v1.Add(m, "/nodes/:ident/vendor_passthru", s.nodeVendorPassthru)
		v1.Add(m, "/nodes/:ident/vendor_passthru/:method", s.nodeVendorPassthru)
		v1.Add(m, "/drivers/:name/vendor_passthru", s.driverVendorPassthru)
		v1.Add(m, "/drivers/:name/vendor_passthru/:method", s.driverVendorPassthru)
	}
	return app
}

// sendHealth answers a probe with its report.
func sendHealth(c *fiber.Ctx, r health.Report) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(r.Code()).JSON(r)
}

// headerRequestID is Ironic's per-request id header.
const headerRequestID = "Openstack-Request-Id"

// requestID sets Ironic's per-request id header, and puts the id in the
// request's context (RequestID) for the logs.
func requestID(c *fiber.Ctx) error {
	id := "req-" + uuid.NewString()
	c.Set(headerRequestID, id)
	c.SetUserContext(ContextWithRequestID(c.UserContext(), id))
	return c.Next()
}

// checkRequestText refuses a request whose path or query (names and values,
// unescaped) holds a NUL character or is not valid UTF-8. No identifier or
// filter can contain one, and PostgreSQL can neither store nor compare such
// text: it would answer an error where the client deserves a 400.
func checkRequestText(c *fiber.Ctx) error {
	if what := badText(fasthttp.AppendUnquotedArg(nil, c.Context().URI().PathOriginal())); what != "" {
		return badRequest("The request path %s.", what)
	}
	var err *apiError
	c.Context().QueryArgs().VisitAll(func(k, v []byte) {
		switch {
		case err != nil:
		case badText(k) != "":
			err = badRequest("A query parameter name %s.", badText(k))
		case badText(v) != "":
			err = badRequest("Query parameter %s %s.", k, badText(v))
		}
	})
	if err != nil {
		return err
	}
	return c.Next()
}

// badText says what is wrong with b as request text, or "".
func badText(b []byte) string {
	switch {
	case !utf8.Valid(b):
		return "is not valid UTF-8"
	case bytes.IndexByte(b, 0) >= 0:
		return "contains a NUL character"
	}
	return ""
}

// crudRoutes are a resource's handlers: its collection, its optional
// .../detail listing and one object named by the path parameter param.
// missing is Ironic's name of that parameter (the message of a DELETE or
// PATCH on the collection).
type crudRoutes struct {
	list, create, detail, get, patch, del fiber.Handler
	param, missing                        string
}

// addCRUD registers h at path under r in the order routing needs (the
// static .../detail before the object's parameter).
func addCRUD(r fiber.Router, path string, h crudRoutes) {
	r.Get(path, h.list)
	r.Post(path, h.create)
	r.Delete(path, missingParam(h.missing))
	r.Patch(path, missingParam(h.missing))
	if h.detail != nil {
		r.Get(path+"/detail", h.detail)
	}
	item := path + "/:" + h.param
	r.Get(item, h.get)
	r.Patch(item, h.patch)
	r.Delete(item, h.del)
}

// missingParam answers what Ironic answers for DELETE or PATCH on a
// collection: the item identifier is a mandatory argument.
func missingParam(name string) fiber.Handler {
	return func(*fiber.Ctx) error {
		return badRequest("Missing mandatory parameter: %s", name)
	}
}

// publicURL is the base of every link: the configured public URL, or the
// request's scheme and host.
func (s *Server) publicURL(c *fiber.Ctx) string {
	if s.PublicURL != "" {
		return strings.TrimRight(s.PublicURL, "/")
	}
	return c.Protocol() + "://" + c.Hostname()
}

// param returns a copy of a route parameter (Fiber's value is only valid
// during the handler), percent-decoded as Ironic's router decodes it (a
// valid identifier has nothing to decode; an invalid one is quoted in
// messages as the client meant it).
func param(c *fiber.Ctx, name string) string {
	raw := c.Params(name)
	if strings.IndexByte(raw, '%') >= 0 {
		if s, err := url.PathUnescape(raw); err == nil {
			return s
		}
	}
	return strings.Clone(raw)
}

// query returns a copy of a query parameter and whether it was present.
func query(c *fiber.Ctx, name string) (string, bool) {
	args := c.Context().QueryArgs()
	v := args.Peek(name)
	if v == nil {
		return "", args.Has(name)
	}
	return string(v), true
}

// sendJSON writes a JSON body built by fill into a pooled buffer.
func (s *Server) sendJSON(c *fiber.Ctx, status int, fill func(b []byte) []byte) error {
	bp, _ := s.bufs.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, 0, 4096)
		bp = &b
	}
	out := fill((*bp)[:0])
	c.Status(status)
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	err := c.Send(out) // fasthttp copies the body
	if cap(out) <= 8<<20 {
		*bp = out[:0]
		s.bufs.Put(bp)
	}
	return err
}

// root answers GET /: the version discovery document.
func (s *Server) root(c *fiber.Ctx) error {
	base := s.publicURL(c)
	return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte {
		b = append(b, `{"name":"OpenStack Ironic API","description":"Ironic is an OpenStack project which enables the provision and management of baremetal machines.","default_version":`...)
		b = appendVersionDoc(b, base)
		b = append(b, `,"versions":[`...)
		b = appendVersionDoc(b, base)
		return append(b, "]}"...)
	})
}

func appendVersionDoc(b []byte, base string) []byte {
	b = append(b, `{"id":"v1","links":[{"href":"`...)
	b = jsonwire.AppendEscaped(b, base)
	b = append(b, `/v1/","rel":"self"}],"status":"CURRENT","min_version":"`...)
	b = append(b, minVersionString...)
	b = append(b, `","version":"`...)
	b = append(b, maxVersionString...)
	return append(b, `"}`...)
}

// v1Root answers GET /v1: the v1 resource index. Links appear at the
// microversions that introduced their resources, as in Ironic, even for
// resources ferric does not serve (see version.go): clients read this
// document for the version block only.
func (s *Server) v1Root(c *fiber.Ctx) error {
	base := s.publicURL(c)
	v := minor(c)
	return s.sendJSON(c, fiber.StatusOK, func(b []byte) []byte {
		b = append(b, `{"id":"v1","links":[{"href":"`...)
		b = jsonwire.AppendEscaped(b, base)
		b = append(b, `/v1/","rel":"self"},{"href":"https://docs.openstack.org//ironic/latest/contributor//webapi.html","rel":"describedby","type":"text/html"}],"media_types":{"base":"application/json","type":"application/vnd.openstack.ironic.v1+json"}`...)
		res := func(name string) {
			b = append(b, ',', '"')
			b = append(b, name...)
			b = append(b, `":`...)
			b = appendLinks(b, base, name+"/")
		}
		res("chassis")
		res("nodes")
		res("ports")
		res("drivers")
		b = append(b, `,"version":`...)
		b = appendVersionDoc(b, base)
		for _, r := range []struct {
			name string
			min  int
		}{
			{"portgroups", v23Portgroups}, {"volume", v32Volume}, {"lookup", v22LookupHeartbeat},
			{"heartbeat", v22LookupHeartbeat}, {"conductors", v49Conductors}, {"allocations", v52Allocations},
			{"events", v54Events}, {"deploy_templates", v55DeployTemplates}, {"shards", v82Shard}, {"runbooks", v92Runbooks},
			// Ironic 29 lists runbooks (1.92) before and continue_inspection
			// (1.96) after it.
			{"inspection_rules", v96InspectionRules},
			{"continue_inspection", v84ContinueInspection},
		} {
			if v >= r.min {
				res(r.name)
			}
		}
		return append(b, '}')
	})
}

// empty answers status with no body (Fiber's SendStatus would write the
// status text; Ironic sends nothing).
func empty(c *fiber.Ctx, status int) error {
	c.Status(status)
	c.Response().Header.SetNoDefaultContentType(true)
	return nil
}
