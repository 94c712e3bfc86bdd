-- Servicing (API 1.87): the running service step of a node, as clean_step
-- and deploy_step, and the service steps a service request gave, kept with
-- its operation record as clean and deploy steps are.
ALTER TABLE nodes ADD COLUMN service_step jsonb NOT NULL DEFAULT '{}';
ALTER TABLE node_operations ADD COLUMN service_steps jsonb;

-- Runbooks (API 1.92): named lists of clean or service steps a clean or
-- service request may run instead of its own steps, when the runbook's
-- name is one of the node's traits. As deploy templates, a runbook's steps
-- stay with it, a JSON array of {interface, step, args, order} written and
-- read whole (json keeps the members of arguments in their order).
CREATE TABLE runbooks (
    id              bigserial   PRIMARY KEY,
    uuid            uuid        NOT NULL UNIQUE,
    name            text        NOT NULL UNIQUE,
    extra           jsonb       NOT NULL DEFAULT '{}',
    steps           json        NOT NULL CHECK (json_typeof(steps) = 'array'),
    disable_ramdisk boolean     NOT NULL DEFAULT false,
    public          boolean     NOT NULL DEFAULT false,
    owner           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz
);
