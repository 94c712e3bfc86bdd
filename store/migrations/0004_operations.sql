-- Operation records: what a provisioning request gave beyond its verb (the
-- config drive, clean steps, deploy steps). The API writes one before it
-- starts the operation's workflow and passes only its id through Temporal,
-- so that user data and secrets in a config drive never enter workflow
-- history. A node keeps its latest few records (a rebuild may reuse the
-- config drive of the deploy before it).

CREATE TABLE node_operations (
    id           uuid        PRIMARY KEY,
    node_id      bigint      NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    verb         text        NOT NULL,
    config_drive jsonb,
    clean_steps  jsonb,
    deploy_steps jsonb,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX node_operations_node_id_idx ON node_operations (node_id, created_at);
