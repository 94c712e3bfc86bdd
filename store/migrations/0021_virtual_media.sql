-- Virtual media (API 1.89, 1.93). An attach request's image URL travels to
-- its workflow in an operation record (args), never in workflow history;
-- node_virtual_media is what a node's management interface reported
-- attached after ferric's last attach or detach: interfaces that keep no
-- state of their own (the fake) answer GET .../vmedia from it.
ALTER TABLE node_operations ADD COLUMN args jsonb;

CREATE TABLE node_virtual_media (
    node_id               bigint      NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    device_type           text        NOT NULL,
    image_url             text        NOT NULL,
    image_download_source text        NOT NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (node_id, device_type)
);
