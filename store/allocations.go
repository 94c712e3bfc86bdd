package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ferric-project/ferric/node"
)

// Allocation is a request for a node (Ironic's allocation, API 1.52).
type Allocation struct {
	ID   int64
	UUID string
	Name *string
	// NodeUUID is the node the allocation holds (active), resolved from
	// node_id; nil while allocating and after a failure.
	NodeUUID       *string
	State          node.AllocationState
	Owner          *string
	LastError      *string
	ResourceClass  *string
	Traits         []string
	CandidateNodes []string // node UUIDs
	Extra          json.RawMessage
	CreatedAt      time.Time
	UpdatedAt      *time.Time
}

// ListAllocations selects allocations. Zero values mean "no filter".
type ListAllocations struct {
	Limit    int
	MarkerID int64
	SortKey  string // a name from AllocationSortKeys; "" = id
	SortDesc bool

	NodeUUID      string
	ResourceClass *string
	State         *string
	Owner         *string
}

// allocationColumns are an Allocation's fields as columns of the
// allocations table, read over "a" joined to its node "n". Create writes
// them all; Update (PATCH) writes name and extra; the node link, state and
// last_error are written by the reservation, backfill and release methods.
func allocationColumns() []column[Allocation] {
	type a = Allocation
	opt := optTextCol[a]
	return []column[a]{
		idCol(func(a *a) *int64 { return &a.ID }),
		uuidCol("a", func(a *a) *string { return &a.UUID }),
		opt("name", func(a *a) **string { return &a.Name }).sorted(),
		opt("node_uuid", func(a *a) **string { return &a.NodeUUID }).readAs("n.uuid::text").setByDB(),
		textCol("state", func(a *a) *string { return (*string)(&a.State) }).insertOnly().sorted(),
		opt("owner", func(a *a) **string { return &a.Owner }).insertOnly().sorted(),
		opt("last_error", func(a *a) **string { return &a.LastError }).insertOnly(),
		opt("resource_class", func(a *a) **string { return &a.ResourceClass }).insertOnly().sorted(),
		textsCol("traits", func(a *a) *[]string { return &a.Traits }).insertOnly(),
		textsCol("candidate_nodes", func(a *a) *[]string { return &a.CandidateNodes }).insertOnly(),
		jsonCol("extra", func(a *a) *json.RawMessage { return &a.Extra }),
		createdCol(func(a *a) *time.Time { return &a.CreatedAt }).sorted(),
		optTimeCol("updated_at", func(a *a) **time.Time { return &a.UpdatedAt }).insertOnly().sorted(),
	}
}

// allocationTable is allocationColumns with the SQL they build.
var allocationTable = newTable("allocations", "a", "allocation", " LEFT JOIN nodes n ON n.id = a.node_id",
	allocationColumns())

// AllocationSortKeys returns the sort keys ListAllocations accepts.
func AllocationSortKeys() []string { return slices.Clone(allocationTable.sortKeys) }

// CreateAllocation inserts a (allocating unless a.State says otherwise)
// and returns the stored row. A UUID (v4) is generated when a.UUID is
// empty.
//
// Errors: ErrExists for a duplicate UUID or name (errors.Is(err,
// ErrDuplicateName) tells the name apart); ErrInvalidArgument for a
// malformed UUID.
func (q Queries) CreateAllocation(ctx context.Context, a Allocation) (Allocation, error) {
	if a.State == "" {
		a.State = node.AllocationAllocating
	}
	out, err := allocationTable.create(ctx, q.db, &a, &a.UUID, normalizeCandidates)
	return out, duplicateName(err, "allocations_name_key")
}

// ErrDuplicateName is returned, with ErrExists, when a name is taken.
var ErrDuplicateName = errors.New("store: name already used")

// duplicateName marks err as ErrDuplicateName when the unique constraint
// that failed is the name's.
func duplicateName(err error, constraint string) error {
	if err != nil && errors.Is(err, ErrExists) && strings.Contains(err.Error(), constraint) {
		return fmt.Errorf("%w: %w", ErrDuplicateName, err)
	}
	return err
}

// normalizeCandidates canonicalizes candidate node UUIDs.
func normalizeCandidates(a *Allocation) error {
	for i, c := range a.CandidateNodes {
		u, err := uuid.Parse(c)
		if err != nil {
			return fmt.Errorf("candidate node %q: %w", c, ErrInvalidArgument)
		}
		a.CandidateNodes[i] = u.String()
	}
	return nil
}

// Allocation returns the allocation whose UUID is ident when ident parses
// as a UUID, else the one named ident. ErrNotFound when there is none.
func (q Queries) Allocation(ctx context.Context, ident string) (Allocation, error) {
	return allocationTable.byIdent(ctx, q.db, ident)
}

// ListAllocations returns the allocations l selects, ordered by
// (l.SortKey, id) and paged by keyset like ListNodes.
//
// Errors: ErrInvalidArgument for an unknown sort key or a negative limit;
// ErrNotFound when l.MarkerID names no allocation.
func (q Queries) ListAllocations(ctx context.Context, l ListAllocations) ([]Allocation, error) {
	return allocationTable.list(ctx, q.db, listPage{l.SortKey, l.SortDesc, l.MarkerID, l.Limit},
		func(b *queryBuilder) bool {
			if l.NodeUUID != "" && !b.uuidCond("n.uuid", l.NodeUUID) {
				return false
			}
			for _, f := range []struct {
				col string
				val *string
			}{{"resource_class", l.ResourceClass}, {"state", l.State}, {"owner", l.Owner}} {
				if f.val != nil {
					b.cond("a."+f.col+" = %s::text", *f.val)
				}
			}
			return true
		}, nil)
}

// UpdateAllocation writes a's name and extra over the stored allocation
// with the same UUID, sets UpdatedAt and returns the stored row.
//
// Errors: ErrNotFound when it is gone; ErrExists (and ErrDuplicateName)
// for a name already used.
func (q Queries) UpdateAllocation(ctx context.Context, a Allocation) (Allocation, error) {
	out, err := allocationTable.update(ctx, q.db, &a, &a.UUID, nil)
	return out, duplicateName(err, "allocations_name_key")
}

// Reservation is what ReserveNode found: the node it reserved, or why it
// reserved none.
type Reservation struct {
	// Allocation is the allocation as it is after the call (its state says
	// whether a node is held).
	Allocation Allocation
	// Gone: the allocation no longer exists (deleted meanwhile).
	Gone bool
	// Matching counts the nodes the allocation may hold but for their
	// traits: available, not in maintenance, without an instance, with a
	// known power state, of its resource class, among its candidates and
	// its owner's. WithTraits counts those that also have its traits. When
	// nothing was reserved but WithTraits > 0, every suitable node was busy
	// (another reservation holding its row, or a power action in flight).
	Matching, WithTraits int
}

// allocatableSQL is the condition under which allocation "al" (allocating)
// may hold node "n", but for traits and whether the node is busy: Ironic's
// candidate filter (resource class, available, no instance, power state
// known, not in maintenance, candidates, owner or lessee).
const allocatableSQL = `n.provision_state = 'available' AND NOT n.maintenance AND n.instance_uuid IS NULL
	AND n.power_state IS NOT NULL AND n.resource_class = al.resource_class
	AND (cardinality(al.candidate_nodes) = 0 OR n.uuid::text = ANY(al.candidate_nodes))
	AND (al.owner IS NULL OR n.owner = al.owner OR n.lessee = al.owner)
	AND NOT EXISTS (SELECT 1 FROM allocations x WHERE x.node_id = n.id)`

// reserveSQL reserves one node for allocation $1 in one statement: it locks
// the allocation (a concurrent release or deletion waits, or wins), picks
// and locks a suitable node that nobody else holds (SKIP LOCKED: concurrent
// reservations take different nodes), the node named like the allocation
// first (as Ironic tries it first), else at random, and writes both: the
// node's instance_uuid (the allocation's UUID) and instance_info.traits,
// the allocation's node and state. The node's conditions are re-checked on
// its latest version once locked, and node_id and instance_uuid are unique:
// no node can be held twice.
const reserveSQL = `WITH al AS (
	SELECT * FROM allocations WHERE uuid = $1::uuid AND state = 'allocating' FOR UPDATE
), pick AS (
	SELECT n.id FROM nodes n, al
	WHERE ` + allocatableSQL + ` AND n.traits @> al.traits AND n.target_power_state IS NULL
	ORDER BY (al.name IS NOT NULL AND n.name = al.name) DESC, random()
	LIMIT 1
	FOR UPDATE OF n SKIP LOCKED
), hold AS (
	UPDATE nodes n SET instance_uuid = al.uuid::text,
		instance_info = jsonb_set(n.instance_info, '{traits}', to_jsonb(al.traits)),
		version = n.version + 1, updated_at = now()
	FROM pick, al WHERE n.id = pick.id
	RETURNING n.id
)
UPDATE allocations a SET node_id = hold.id, state = 'active', last_error = NULL, updated_at = now()
FROM hold, al WHERE a.id = al.id
RETURNING a.uuid::text`

// countSQL counts, for allocation $1, the nodes it may hold but for traits
// and those of them that have its traits.
const countSQL = `SELECT count(*), count(*) FILTER (WHERE n.traits @> al.traits)
	FROM nodes n, allocations al WHERE al.uuid = $1::uuid AND ` + allocatableSQL

// ReserveNode reserves a node for the allocation allocUUID if it is still
// allocating: see reserveSQL. When no node is reserved the allocation is
// left allocating and the counts say why (the caller decides whether to try
// again or to fail it). A call for an allocation that is no longer
// allocating reports it as it is (a retried call whose first attempt
// committed sees it active).
//
// Errors: ErrExists if a node was taken by a writer that bypassed the
// conditions (the caller tries again).
func (q Queries) ReserveNode(ctx context.Context, allocUUID string) (Reservation, error) {
	id, err := uuid.Parse(allocUUID)
	if err != nil {
		return Reservation{Gone: true}, nil
	}
	var got string
	err = q.db.QueryRow(ctx, reserveSQL, id.String()).Scan(&got)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return Reservation{}, fmt.Errorf("reserve a node for allocation %s: %w", allocUUID, translate(err, ErrNotFound))
	}
	a, err := q.Allocation(ctx, id.String())
	if errors.Is(err, ErrNotFound) {
		return Reservation{Gone: true}, nil
	}
	if err != nil {
		return Reservation{}, fmt.Errorf("reserve a node for allocation %s: %w", allocUUID, err)
	}
	r := Reservation{Allocation: a}
	if a.State != node.AllocationAllocating {
		return r, nil
	}
	if err := q.db.QueryRow(ctx, countSQL, id.String()).Scan(&r.Matching, &r.WithTraits); err != nil {
		return Reservation{}, fmt.Errorf("count nodes for allocation %s: %w", allocUUID, err)
	}
	return r, nil
}

// FailAllocation records that the allocation allocUUID failed, if it is
// still allocating: state error, no node, lastError. It returns the
// allocation as it is; ErrNotFound when it is gone.
func (q Queries) FailAllocation(ctx context.Context, allocUUID, lastError string) (Allocation, error) {
	id, err := uuid.Parse(allocUUID)
	if err != nil {
		return Allocation{}, fmt.Errorf("fail allocation %q: %w", allocUUID, ErrNotFound)
	}
	if _, err := q.db.Exec(ctx, `UPDATE allocations SET state = 'error', node_id = NULL, last_error = $2::text,
		updated_at = now() WHERE uuid = $1::uuid AND state = 'allocating'`, id.String(), lastError); err != nil {
		return Allocation{}, fmt.Errorf("fail allocation %s: %w", allocUUID, err)
	}
	return q.Allocation(ctx, id.String())
}

// BackfillCheck decides, with the node's row locked, whether allocation a
// may hold node n (already deployed); a non-nil error is the failure.
type BackfillCheck func(n *Node, a *Allocation) error

// ErrInstanceTaken is returned when an allocation's UUID is already
// another node's instance_uuid.
var ErrInstanceTaken = errors.New("store: instance UUID already used by another node")

// BackfillAllocation creates allocation a and makes it hold the node
// nodeUUID at once (Ironic's backfilling, API 1.58): in one transaction
// with the node's row locked, check decides, then the node gets
// instance_uuid (unless it has it) and instance_info.traits and the
// allocation becomes active. Any failure after the allocation is created is
// recorded on it (state error, last_error msgOf(err)), which is kept, and
// returned.
//
// Errors: ErrExists/ErrDuplicateName as CreateAllocation (nothing is
// written); then ErrNotFound when the node is gone, ErrConflict when it
// holds another instance, ErrInstanceTaken, or check's error.
func (s *Store) BackfillAllocation(ctx context.Context, a Allocation, nodeUUID string, check BackfillCheck,
	msgOf func(error) string) (Allocation, error) {
	a.State = node.AllocationAllocating
	created, err := s.CreateAllocation(ctx, a)
	if err != nil {
		return Allocation{}, err
	}
	var out Allocation
	err = s.InTx(ctx, func(q Queries) error {
		n, err := q.scanNode(q.db.QueryRow(ctx, `SELECT `+nodeSelect+nodeJoin+` WHERE n.uuid = $1::uuid FOR UPDATE OF n`,
			nodeUUID))
		if err != nil {
			return fmt.Errorf("backfill allocation %s: node %s: %w", created.UUID, nodeUUID, translate(err, ErrNotFound))
		}
		if err := check(&n, &created); err != nil {
			return err
		}
		tag, err := q.db.Exec(ctx, `UPDATE nodes SET instance_uuid = $2::text,
				instance_info = jsonb_set(instance_info, '{traits}', to_jsonb($3::text[])),
				version = version + 1, updated_at = now()
			WHERE id = $1::bigint AND (instance_uuid IS NULL OR lower(instance_uuid) = $2::text)`,
			n.ID, created.UUID, nonNil(created.Traits))
		if errors.Is(translate(err, ErrNotFound), ErrExists) {
			return fmt.Errorf("backfill allocation %s: %w", created.UUID, ErrInstanceTaken)
		}
		if err != nil {
			return fmt.Errorf("backfill allocation %s: %w", created.UUID, translate(err, ErrNotFound))
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("backfill allocation %s: node %s is associated with instance %s: %w",
				created.UUID, n.UUID, deref(n.InstanceUUID), ErrConflict)
		}
		if _, err := q.db.Exec(ctx, `UPDATE allocations SET node_id = $2::bigint, state = 'active', updated_at = now()
			WHERE id = $1::bigint`, created.ID, n.ID); err != nil {
			return fmt.Errorf("backfill allocation %s: %w", created.UUID, translate(err, ErrNotFound))
		}
		out, err = q.Allocation(ctx, created.UUID)
		return err
	})
	if err == nil {
		return out, nil
	}
	if _, ferr := s.FailAllocation(context.WithoutCancel(ctx), created.UUID, msgOf(err)); ferr != nil {
		return Allocation{}, errors.Join(err, ferr)
	}
	return Allocation{}, err
}

// ReleaseCheck decides, with the node's row locked, whether allocation a
// may release node n; a non-nil error refuses.
type ReleaseCheck func(n *Node, a *Allocation) error

// DeleteAllocation deletes the allocation ident (UUID or name). When it
// holds a node, the node's row is locked, check decides, and the node loses
// its instance_uuid in the same transaction (Ironic's destroy_allocation).
// The node's row is locked before the allocation's, in the order node
// writes (which release allocations) take them.
//
// Errors: ErrNotFound when there is no such allocation; check's error.
func (s *Store) DeleteAllocation(ctx context.Context, ident string, check ReleaseCheck) error {
	where, arg := identWhere("a", ident)
	for attempt := 0; ; attempt++ {
		var moved bool
		err := s.InTx(ctx, func(q Queries) error {
			var allocID int64
			var nodeID *int64
			if err := q.db.QueryRow(ctx, `SELECT a.id, a.node_id FROM allocations a WHERE `+where, arg).
				Scan(&allocID, &nodeID); err != nil {
				return fmt.Errorf("delete allocation %s: %w", ident, translate(err, ErrNotFound))
			}
			var n Node
			if nodeID != nil {
				var err error
				n, err = q.scanNode(q.db.QueryRow(ctx,
					`SELECT `+nodeSelect+nodeJoin+` WHERE n.id = $1::bigint FOR UPDATE OF n`, *nodeID))
				if err != nil && !errors.Is(err, pgx.ErrNoRows) {
					return fmt.Errorf("delete allocation %s: node: %w", ident, err)
				}
			}
			a, err := allocationTable.get(ctx, q.db, ident, `a.id = $1::bigint FOR UPDATE OF a`, allocID)
			if err != nil {
				return fmt.Errorf("delete allocation %s: %w", ident, err)
			}
			if (a.NodeUUID == nil) != (nodeID == nil) || (nodeID != nil && *a.NodeUUID != n.UUID) {
				moved = true // reserved or released meanwhile: read again
				return nil
			}
			if nodeID != nil {
				if err := check(&n, &a); err != nil {
					return err
				}
				if _, err := q.db.Exec(ctx, `UPDATE nodes SET instance_uuid = NULL, version = version + 1,
					updated_at = now() WHERE id = $1::bigint AND lower(instance_uuid) = $2::text`, *nodeID, a.UUID); err != nil {
					return fmt.Errorf("delete allocation %s: release node: %w", ident, err)
				}
			}
			if _, err := q.db.Exec(ctx, `DELETE FROM allocations WHERE id = $1::bigint`, allocID); err != nil {
				return fmt.Errorf("delete allocation %s: %w", ident, err)
			}
			return nil
		})
		if err != nil || !moved {
			return err
		}
		if attempt >= 5 {
			return fmt.Errorf("delete allocation %s: it kept changing: %w", ident, ErrConflict)
		}
	}
}

// AllocationOfNode returns the allocation holding the node nodeUUID.
// ErrNotFound when none does.
func (q Queries) AllocationOfNode(ctx context.Context, nodeUUID string) (Allocation, error) {
	id, err := uuid.Parse(nodeUUID)
	if err != nil {
		return Allocation{}, fmt.Errorf("allocation of node %q: %w", nodeUUID, ErrNotFound)
	}
	return allocationTable.get(ctx, q.db, nodeUUID, `n.uuid = $1::uuid`, id.String())
}

// StaleAllocations returns the UUIDs of allocations still allocating that
// were created more than idle ago: their workflow may never have started
// (the API died between creating the allocation and starting it).
func (q Queries) StaleAllocations(ctx context.Context, idle time.Duration, limit int) ([]string, error) {
	rows, err := q.db.Query(ctx, `SELECT uuid::text FROM allocations
		WHERE state = 'allocating' AND created_at < now() - $1::interval ORDER BY id LIMIT $2`, idle, limit)
	if err != nil {
		return nil, fmt.Errorf("list stale allocations: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list stale allocations: %w", err)
	}
	return out, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
