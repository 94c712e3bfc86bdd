-- Hardware inventory from inspection, in ironic-python-agent's format. The
-- two parts are kept as the text that was submitted (not jsonb, which would
-- reorder keys and drop duplicates): GET /v1/nodes/{id}/inventory returns
-- them byte for byte.

CREATE TABLE node_inventory (
    node_id     bigint      PRIMARY KEY REFERENCES nodes (id) ON DELETE CASCADE,
    inventory   text        NOT NULL,
    plugin_data text        NOT NULL,
    -- Who produced it: "agent" (in-band) or the inspect interface's name.
    source      text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- An agent command's result (an inventory, say) is kept as the agent sent
-- it: jsonb would reorder its keys.
ALTER TABLE agent_commands ALTER COLUMN result TYPE text USING result::text;
