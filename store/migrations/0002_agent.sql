-- Agent sessions: the server side of agent-based deploy and cleaning.
--
-- A node has at most one session while it should run the ramdisk agent
-- (deploying, wait call-back, cleaning, clean wait). The agent token is
-- stored only as its sha256 (hex); deleting the session kills the token.
-- Commands are pulled by the agent in heartbeat answers, in seq order; each
-- keeps the latest result the agent reported.

CREATE TABLE agent_sessions (
    node_id           bigint      PRIMARY KEY REFERENCES nodes (id) ON DELETE CASCADE,
    boot_ramdisk      boolean     NOT NULL DEFAULT true,
    token_hash        text,
    token_issued_at   timestamptz,
    agent_version     text,
    last_heartbeat_at timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE agent_commands (
    node_id       bigint      NOT NULL REFERENCES agent_sessions (node_id) ON DELETE CASCADE,
    seq           bigserial,
    id            text        NOT NULL,
    name          text        NOT NULL,
    params        jsonb,
    -- '' until the agent reports; then running, succeeded or failed.
    status        text        NOT NULL DEFAULT '',
    error         text,
    result        jsonb,
    bytes_written bigint      NOT NULL DEFAULT 0,
    bytes_total   bigint      NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz,
    PRIMARY KEY (node_id, id)
);

CREATE INDEX agent_commands_seq_idx ON agent_commands (node_id, seq);
