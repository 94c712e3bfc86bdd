-- Allocations (Ironic's allocations, API 1.52): a request for a node of a
-- resource class with traits, among candidate nodes, which a workflow
-- fulfils by reserving an available node.
--
-- The link between an allocation and its node is node_id alone (one source
-- of truth): a node shows the allocation that holds it and whose UUID is the
-- node's instance_uuid, as Ironic sets it. node_id is unique, so no node is
-- held by two allocations, and nodes.instance_uuid is unique too: the
-- reservation is a conditional write that these constraints back.
-- Deleting a node deletes its allocations, as Ironic's destroy_node does.

CREATE TABLE allocations (
    id              bigserial   PRIMARY KEY,
    uuid            uuid        NOT NULL UNIQUE,
    name            text        UNIQUE,
    node_id         bigint      UNIQUE REFERENCES nodes (id) ON DELETE CASCADE,
    -- allocating, active or error
    state           text        NOT NULL DEFAULT 'allocating',
    owner           text,
    last_error      text,
    resource_class  text,
    traits          text[]      NOT NULL DEFAULT '{}',
    -- node UUIDs, in the order the request named them
    candidate_nodes text[]      NOT NULL DEFAULT '{}',
    extra           jsonb       NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz
);

CREATE INDEX allocations_state_idx ON allocations (state, id);
CREATE INDEX allocations_resource_class_idx ON allocations (resource_class, id);
CREATE INDEX allocations_owner_idx ON allocations (owner, id);

-- The nodes an allocation may reserve, by resource class.
CREATE INDEX nodes_allocatable_idx ON nodes (resource_class, id)
    WHERE provision_state = 'available' AND instance_uuid IS NULL AND NOT maintenance;
