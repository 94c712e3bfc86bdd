-- Inspection data posted by a ramdisk (POST /v1/continue_inspection) and
-- not yet processed by the node's inspection workflow. The API writes the
-- row only while the node is in inspect wait (and only once per wait: a
-- second post is refused while one is pending); the workflow reads it,
-- runs the inspection hooks, stores the processed result in node_inventory
-- and deletes it. Kept as the text posted (key order, duplicates).

CREATE TABLE inspection_data (
    node_id     bigint      PRIMARY KEY REFERENCES nodes (id) ON DELETE CASCADE,
    inventory   text        NOT NULL,
    plugin_data text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
