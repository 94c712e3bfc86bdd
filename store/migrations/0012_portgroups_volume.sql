-- Port groups (API 1.23), ports as their members, volume connectors and
-- volume targets (API 1.32): Ironic's portgroups, ports.portgroup_id,
-- volume_connectors and volume_targets. All belong to a node and go with it
-- (ON DELETE CASCADE), as Ironic's destroy_node deletes them.

CREATE TABLE portgroups (
    id                         bigserial   PRIMARY KEY,
    uuid                       uuid        NOT NULL UNIQUE,
    name                       text        UNIQUE,
    node_id                    bigint      NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    -- MAC, lower case; optional for a port group.
    address                    text        UNIQUE,
    -- The bonding mode; NULL only when a client set it to null.
    mode                       text,
    properties                 jsonb       NOT NULL DEFAULT '{}',
    standalone_ports_supported boolean     NOT NULL DEFAULT true,
    extra                      jsonb       NOT NULL DEFAULT '{}',
    internal_info              jsonb       NOT NULL DEFAULT '{}',
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz,
    -- The key ports reference with their node: a port's group is on its node.
    UNIQUE (id, node_id)
);

CREATE INDEX portgroups_node_id_idx ON portgroups (node_id, id);

-- ports.portgroup_uuid was a placeholder, always NULL until now.
ALTER TABLE ports DROP COLUMN portgroup_uuid;
ALTER TABLE ports ADD COLUMN portgroup_id bigint;
-- NO ACTION: a port group with member ports cannot be deleted or moved to
-- another node; deleting the node deletes both in one statement.
ALTER TABLE ports ADD CONSTRAINT ports_portgroup_fkey
    FOREIGN KEY (portgroup_id, node_id) REFERENCES portgroups (id, node_id);
CREATE INDEX ports_portgroup_id_idx ON ports (portgroup_id, id) WHERE portgroup_id IS NOT NULL;

CREATE TABLE volume_connectors (
    id           bigserial   PRIMARY KEY,
    uuid         uuid        NOT NULL UNIQUE,
    node_id      bigint      NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    type         text        NOT NULL,
    connector_id text        NOT NULL,
    extra        jsonb       NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz,
    -- Ironic's uniq_volumeconnectors0type0connector_id: across all nodes.
    UNIQUE (type, connector_id)
);

CREATE INDEX volume_connectors_node_id_idx ON volume_connectors (node_id, id);

CREATE TABLE volume_targets (
    id          bigserial   PRIMARY KEY,
    uuid        uuid        NOT NULL UNIQUE,
    node_id     bigint      NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    volume_type text        NOT NULL,
    properties  jsonb       NOT NULL DEFAULT '{}',
    boot_index  integer     NOT NULL,
    volume_id   text        NOT NULL,
    extra       jsonb       NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz,
    -- Ironic's uniq_volumetargets0node_id0boot_index (also the node index).
    UNIQUE (node_id, boot_index)
);
