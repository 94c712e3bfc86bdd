package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"time"

	"github.com/google/uuid"
)

// DHCPHost is what the DHCP server needs to know of an enrolled port's MAC
// address: its node, whether it may network-boot, and what the node records
// of its boot mode.
type DHCPHost struct {
	NodeUUID     string
	PXEEnabled   bool
	InstanceInfo json.RawMessage
	Properties   json.RawMessage
}

// DHCPHostByMAC returns the port with this MAC address (any case) and its
// node; ok is false when no port has it.
func (q Queries) DHCPHostByMAC(ctx context.Context, mac string) (h DHCPHost, ok bool, err error) {
	err = q.db.QueryRow(ctx, `SELECT n.uuid::text, p.pxe_enabled, n.instance_info, n.properties
		FROM ports p JOIN nodes n ON n.id = p.node_id WHERE p.address = $1::text`, normalizeMAC(mac)).
		Scan(&h.NodeUUID, &h.PXEEnabled, (*[]byte)(&h.InstanceInfo), (*[]byte)(&h.Properties))
	if err := translate(err, ErrNotFound); errors.Is(err, ErrNotFound) {
		return DHCPHost{}, false, nil
	} else if err != nil {
		return DHCPHost{}, false, fmt.Errorf("dhcp host %s: %w", mac, err)
	}
	return h, true, nil
}

// SetBootModeMismatch records msg as the node's last_error while the node
// boots the deploy ramdisk (it has an open agent session), without bumping
// its version: the operation holding the node's lock keeps writing, and its
// own failure, if it comes, replaces msg. Otherwise it does nothing.
func (q Queries) SetBootModeMismatch(ctx context.Context, nodeUUID, msg string) error {
	id, err := uuid.Parse(nodeUUID)
	if err != nil {
		return fmt.Errorf("set boot mode mismatch of node %q: %w", nodeUUID, ErrNotFound)
	}
	if _, err := q.db.Exec(ctx, `UPDATE nodes n SET last_error = $2::text, updated_at = now()
		WHERE n.uuid = $1::uuid AND n.last_error IS DISTINCT FROM $2::text
			AND EXISTS (SELECT 1 FROM agent_sessions s WHERE s.node_id = n.id AND s.boot_ramdisk)`,
		id.String(), msg); err != nil {
		return fmt.Errorf("set boot mode mismatch of node %s: %w", nodeUUID, err)
	}
	return nil
}

// DHCPLeaseRequest asks for an address for MAC in [RangeStart, RangeEnd]
// (IPv4).
type DHCPLeaseRequest struct {
	MAC        string
	RangeStart netip.Addr
	RangeEnd   netip.Addr
	// Requested is preferred when free (invalid: no preference).
	Requested netip.Addr
	// Hold is how long the lease lasts from now; a longer one is kept.
	Hold time.Duration
	// Reserved makes it a reservation: no expiry, never given to another
	// MAC while a port has this MAC.
	Reserved bool
	Hostname string
}

// DHCPLease is one row of the lease table.
type DHCPLease struct {
	MAC       string
	IP        netip.Addr
	Reserved  bool
	ExpiresAt *time.Time
	Hostname  string
}

// leaseFree is the SQL condition "address $ip is free for MAC $mac": no
// other MAC holds it with a lease that has not expired, or with a
// reservation whose port still exists.
const leaseFree = `NOT EXISTS (SELECT 1 FROM dhcp_leases o WHERE o.ip = %s AND o.mac <> $1::text AND (
	(o.reserved AND EXISTS (SELECT 1 FROM ports p WHERE p.address = o.mac))
	OR (NOT o.reserved AND o.expires_at > now())))`

// AcquireDHCPLease returns the MAC's address, in one transaction: the one it
// holds when in range (renewed), else the requested one when free, else the
// first free one probing from a position hashed from the MAC (so a client
// tends to get the same address back). ErrNotFound when the range has no
// free address; ErrInvalidArgument for a bad range.
func (s *Store) AcquireDHCPLease(ctx context.Context, r DHCPLeaseRequest) (netip.Addr, error) {
	if !r.RangeStart.Is4() || !r.RangeEnd.Is4() || r.RangeEnd.Less(r.RangeStart) {
		return netip.Addr{}, fmt.Errorf("dhcp lease range %s-%s: %w", r.RangeStart, r.RangeEnd, ErrInvalidArgument)
	}
	mac := normalizeMAC(r.MAC)
	size := int64(u32(r.RangeEnd)-u32(r.RangeStart)) + 1
	inRange := func(ip netip.Addr) bool {
		return ip.Is4() && !ip.Less(r.RangeStart) && !r.RangeEnd.Less(ip)
	}
	h := fnv.New32a()
	h.Write([]byte(mac))
	start := int64(h.Sum32()) % size
	hold := r.Hold.Seconds()
	var got netip.Addr
	var err error
	// A concurrent acquire may take the chosen address first (the unique
	// index on ip refuses ours): choose again. Each refusal means another
	// client got an address, so this ends; the bound is for safety.
	for range 64 {
		err = s.InTx(ctx, func(q Queries) error {
			var cur netip.Addr
			err := q.db.QueryRow(ctx, `SELECT ip FROM dhcp_leases WHERE mac = $1::text FOR UPDATE`, mac).Scan(&cur)
			if err := translate(err, ErrNotFound); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			ip := netip.Addr{}
			switch {
			case cur.IsValid() && inRange(cur.Unmap()):
				ip = cur.Unmap()
			case r.Requested.IsValid() && inRange(r.Requested):
				var free bool
				if err := q.db.QueryRow(ctx, `SELECT `+fmt.Sprintf(leaseFree, `$2::inet`), mac, r.Requested).Scan(&free); err != nil {
					return err
				}
				if free {
					ip = r.Requested
				}
			}
			// Probe a short window first (PostgreSQL materializes the
			// series: the whole range costs milliseconds), then the rest.
			for _, w := range []struct{ from, to int64 }{{0, min(size, 64)}, {min(size, 64), size}} {
				if ip.IsValid() || w.from >= w.to {
					break
				}
				err := q.db.QueryRow(ctx, `SELECT $2::inet + ((g + $3::bigint) % $4::bigint)
					FROM generate_series($5::bigint, $6::bigint - 1) g
					WHERE `+fmt.Sprintf(leaseFree, `$2::inet + ((g + $3::bigint) % $4::bigint)`)+` LIMIT 1`,
					mac, r.RangeStart, start, size, w.from, w.to).Scan(&ip)
				if err := translate(err, ErrNotFound); err != nil && !errors.Is(err, ErrNotFound) {
					return err
				}
			}
			if !ip.IsValid() {
				return fmt.Errorf("no free address in %s-%s: %w", r.RangeStart, r.RangeEnd, ErrNotFound)
			}
			ip = ip.Unmap()
			// A stale holder (expired lease, reservation of a deleted
			// port) gives the address up; the condition is checked again
			// on the row as it is when locked.
			if _, err := q.db.Exec(ctx, `DELETE FROM dhcp_leases l WHERE l.ip = $2::inet AND l.mac <> $1::text AND NOT (
				(l.reserved AND EXISTS (SELECT 1 FROM ports p WHERE p.address = l.mac))
				OR (NOT l.reserved AND l.expires_at > now()))`, mac, ip); err != nil {
				return err
			}
			if _, err := q.db.Exec(ctx, `INSERT INTO dhcp_leases AS l (mac, ip, reserved, expires_at, hostname)
				VALUES ($1::text, $2::inet, $3::boolean,
					CASE WHEN $3::boolean THEN NULL ELSE now() + make_interval(secs => $4::float8) END, NULLIF($5::text, ''))
				ON CONFLICT (mac) DO UPDATE SET ip = EXCLUDED.ip, reserved = EXCLUDED.reserved,
					expires_at = CASE WHEN EXCLUDED.reserved THEN NULL
						WHEN l.ip = EXCLUDED.ip AND l.expires_at > EXCLUDED.expires_at THEN l.expires_at
						ELSE EXCLUDED.expires_at END,
					hostname = COALESCE(EXCLUDED.hostname, l.hostname), updated_at = now()`,
				mac, ip, r.Reserved, hold, r.Hostname); err != nil {
				return err
			}
			got = ip
			return nil
		})
		if pgCode(err) != pgUniqueViolation {
			break
		}
	}
	if err != nil {
		return netip.Addr{}, fmt.Errorf("acquire dhcp lease for %s: %w", mac, translate(err, ErrNotFound))
	}
	return got, nil
}

// ReleaseDHCPLease ends the MAC's lease of ip now (the row stays, so the MAC
// tends to get the address back); a reservation is kept.
func (q Queries) ReleaseDHCPLease(ctx context.Context, mac string, ip netip.Addr) error {
	if _, err := q.db.Exec(ctx, `UPDATE dhcp_leases SET expires_at = now(), updated_at = now()
		WHERE mac = $1::text AND ip = $2::inet AND NOT reserved`, normalizeMAC(mac), ip); err != nil {
		return fmt.Errorf("release dhcp lease %s of %s: %w", ip, mac, err)
	}
	return nil
}

// DHCPLeases lists the lease table in address order.
func (q Queries) DHCPLeases(ctx context.Context) ([]DHCPLease, error) {
	rows, err := q.db.Query(ctx, `SELECT mac, ip, reserved, expires_at, COALESCE(hostname, '') FROM dhcp_leases ORDER BY ip`)
	if err != nil {
		return nil, fmt.Errorf("list dhcp leases: %w", err)
	}
	defer rows.Close()
	var out []DHCPLease
	for rows.Next() {
		var l DHCPLease
		if err := rows.Scan(&l.MAC, &l.IP, &l.Reserved, &l.ExpiresAt, &l.Hostname); err != nil {
			return nil, fmt.Errorf("list dhcp leases: %w", err)
		}
		l.IP = l.IP.Unmap()
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list dhcp leases: %w", err)
	}
	return out, nil
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}
