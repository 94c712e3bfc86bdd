-- Virtual media reads (GET /v1/nodes/{id}/vmedia, API 1.93). The read runs
-- in the node's virtual-media workflow, on the node lock; the devices it
-- finds (image URLs among them, user data) are written here under the
-- read's ID for the API to take, never returned through workflow history.
-- A row lives from the read to the API's answer; one the API never took
-- (it timed out, or crashed) is dropped by the next read of any node.
CREATE TABLE node_vmedia_reads (
    id         uuid        PRIMARY KEY,
    node_id    bigint      NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    devices    jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX node_vmedia_reads_node_id ON node_vmedia_reads (node_id);
