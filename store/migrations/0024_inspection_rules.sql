-- Inspection rules (API 1.96): conditions checked and actions applied to a
-- node's inspection data by the inspection pipeline (Ironic's
-- inspection_rules table). conditions and actions are JSON arrays of
-- {op, args, loop, multiple, ...} objects kept as the client sent them
-- (the json type, not jsonb, keeps their members in that order, as
-- Ironic's text columns do). phase is nullable as Ironic's: a PATCH that
-- removes it stores NULL.
CREATE TABLE inspection_rules (
    id          bigserial   PRIMARY KEY,
    uuid        uuid        NOT NULL UNIQUE,
    priority    integer     NOT NULL DEFAULT 0,
    description text,
    sensitive   boolean     NOT NULL DEFAULT false,
    phase       text                 DEFAULT 'main',
    scope       text,
    conditions  json        NOT NULL DEFAULT '[]' CHECK (json_typeof(conditions) = 'array'),
    actions     json        NOT NULL CHECK (json_typeof(actions) = 'array'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz
);

CREATE INDEX inspection_rules_phase_idx ON inspection_rules (phase);
