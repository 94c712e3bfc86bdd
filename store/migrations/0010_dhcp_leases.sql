-- DHCP leases of ferric's boot server in full mode (drivers/deploy/dhcp).
-- One row per MAC address: the address it holds until expires_at, or for
-- good when reserved (the MAC belongs to an enrolled port). ip is unique, so
-- no two clients are ever given the same address, across restarts and
-- across boot servers sharing the database.

CREATE TABLE dhcp_leases (
    mac         text        PRIMARY KEY,
    ip          inet        NOT NULL UNIQUE,
    reserved    boolean     NOT NULL DEFAULT false,
    -- NULL for a reservation.
    expires_at  timestamptz,
    hostname    text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
