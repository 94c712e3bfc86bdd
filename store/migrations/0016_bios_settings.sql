-- A node's BIOS settings (API 1.40, registry fields 1.74), as its BIOS
-- interface last applied or read them (Ironic's bios_settings table).
CREATE TABLE bios_settings (
    node_id          bigint      NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    name             text        NOT NULL,
    value            text,
    attribute_type   text,
    allowable_values jsonb,
    lower_bound      bigint,
    upper_bound      bigint,
    min_length       bigint,
    max_length       bigint,
    read_only        boolean,
    reset_required   boolean,
    is_unique        boolean,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz,
    PRIMARY KEY (node_id, name)
);
