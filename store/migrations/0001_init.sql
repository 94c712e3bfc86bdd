-- ferric initial schema: Ironic's nodes, ports, chassis and node history.
--
-- Conventions: uuid columns use the uuid type; every JSON object is jsonb NOT
-- NULL DEFAULT '{}'; optional Ironic strings are nullable text; interfaces and
-- conductor_group are NOT NULL text with '' for unset; provision_state is NOT
-- NULL ('' is Ironic's NOSTATE) while target/power states are NULL when unset.

CREATE TABLE chassis (
    id          bigserial   PRIMARY KEY,
    uuid        uuid        NOT NULL UNIQUE,
    description text,
    extra       jsonb       NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz
);

CREATE TABLE nodes (
    id                     bigserial   PRIMARY KEY,
    uuid                   uuid        NOT NULL UNIQUE,
    name                   text        UNIQUE,
    version                bigint      NOT NULL DEFAULT 1,

    driver                 text        NOT NULL,
    driver_info            jsonb       NOT NULL DEFAULT '{}',
    driver_internal_info   jsonb       NOT NULL DEFAULT '{}',
    properties             jsonb       NOT NULL DEFAULT '{}',
    instance_info          jsonb       NOT NULL DEFAULT '{}',
    extra                  jsonb       NOT NULL DEFAULT '{}',
    instance_uuid          text        UNIQUE,
    chassis_id             bigint      REFERENCES chassis (id),
    resource_class         text,
    description            text,
    owner                  text,
    lessee                 text,
    conductor_group        text        NOT NULL DEFAULT '',
    traits                 text[]      NOT NULL DEFAULT '{}',
    network_data           jsonb       NOT NULL DEFAULT '{}',
    automated_clean        boolean,
    protected              boolean     NOT NULL DEFAULT false,
    protected_reason       text,
    retired                boolean     NOT NULL DEFAULT false,
    retired_reason         text,
    shard                  text,
    boot_mode              text,
    secure_boot            boolean,
    fault                  text,
    maintenance            boolean     NOT NULL DEFAULT false,
    maintenance_reason     text,
    console_enabled        boolean     NOT NULL DEFAULT false,
    clean_step             jsonb       NOT NULL DEFAULT '{}',
    deploy_step            jsonb       NOT NULL DEFAULT '{}',
    raid_config            jsonb       NOT NULL DEFAULT '{}',
    target_raid_config     jsonb       NOT NULL DEFAULT '{}',

    bios_interface         text        NOT NULL DEFAULT '',
    boot_interface         text        NOT NULL DEFAULT '',
    console_interface      text        NOT NULL DEFAULT '',
    deploy_interface       text        NOT NULL DEFAULT '',
    firmware_interface     text        NOT NULL DEFAULT '',
    inspect_interface      text        NOT NULL DEFAULT '',
    management_interface   text        NOT NULL DEFAULT '',
    network_interface      text        NOT NULL DEFAULT '',
    power_interface        text        NOT NULL DEFAULT '',
    raid_interface         text        NOT NULL DEFAULT '',
    rescue_interface       text        NOT NULL DEFAULT '',
    storage_interface      text        NOT NULL DEFAULT '',
    vendor_interface       text        NOT NULL DEFAULT '',

    provision_state        text        NOT NULL DEFAULT 'enroll',
    target_provision_state text,
    power_state            text,
    target_power_state     text,
    last_error             text,
    -- Idempotency key of the last Transition (TransitionRequest.RequestID).
    provision_request_id   text,
    provision_updated_at   timestamptz,
    inspection_started_at  timestamptz,
    inspection_finished_at timestamptz,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz
);

-- Filters used by GET /v1/nodes, each with id so that keyset pages over the
-- default order stay index-only. chassis_id also backs the ON DELETE check.
CREATE INDEX nodes_provision_state_idx ON nodes (provision_state, id);
CREATE INDEX nodes_driver_idx          ON nodes (driver, id);
CREATE INDEX nodes_maintenance_idx     ON nodes (id) WHERE maintenance;
CREATE INDEX nodes_chassis_id_idx      ON nodes (chassis_id);
CREATE INDEX nodes_resource_class_idx  ON nodes (resource_class);
CREATE INDEX nodes_conductor_group_idx ON nodes (conductor_group);
CREATE INDEX nodes_owner_idx           ON nodes (owner);
CREATE INDEX nodes_lessee_idx          ON nodes (lessee);
CREATE INDEX nodes_shard_idx           ON nodes (shard);
CREATE INDEX nodes_provision_updated_at_idx ON nodes (provision_updated_at, id);

CREATE TABLE ports (
    id                    bigserial   PRIMARY KEY,
    uuid                  uuid        NOT NULL UNIQUE,
    address               text        NOT NULL UNIQUE,
    node_id               bigint      NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    portgroup_uuid        text,
    local_link_connection jsonb       NOT NULL DEFAULT '{}',
    pxe_enabled           boolean     NOT NULL DEFAULT true,
    physical_network      text,
    extra                 jsonb       NOT NULL DEFAULT '{}',
    internal_info         jsonb       NOT NULL DEFAULT '{}',
    is_smartnic           boolean     NOT NULL DEFAULT false,
    name                  text,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz
);

CREATE INDEX ports_node_id_idx ON ports (node_id, id);

CREATE TABLE node_events (
    id         bigserial   PRIMARY KEY,
    uuid       uuid        NOT NULL UNIQUE,
    node_id    bigint      NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    severity   text        NOT NULL DEFAULT 'INFO',
    event_type text        NOT NULL,
    event      text        NOT NULL,
    user_id    text,
    conductor  text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX node_events_node_id_idx ON node_events (node_id, id);
