-- Deploy templates (API 1.55): named lists of deploy steps that a deploy
-- runs when the template's name is one of the instance's traits
-- (instance_info.traits). Ironic keeps the steps in a table of their own;
-- ferric keeps a template's steps with it, as a JSON array of
-- {interface, step, args, priority}, written and read whole. The json type
-- (not jsonb) keeps the members of step arguments in the order they were
-- given, as Ironic shows them.
CREATE TABLE deploy_templates (
    id         bigserial   PRIMARY KEY,
    uuid       uuid        NOT NULL UNIQUE,
    name       text        NOT NULL UNIQUE,
    extra      jsonb       NOT NULL DEFAULT '{}',
    steps      json        NOT NULL CHECK (json_typeof(steps) = 'array'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz
);

-- The deploy steps of the templates a deploy matched when it was asked
-- for, and those templates' names (in their order), kept with the
-- operation: the workflow plans and runs exactly what the API validated.
ALTER TABLE node_operations ADD COLUMN template_steps json;
ALTER TABLE node_operations ADD COLUMN template_names text[];
