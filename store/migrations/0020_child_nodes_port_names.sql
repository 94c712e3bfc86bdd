-- Ironic 29's node fields parent_node (API 1.83: the UUID of the node this
-- one is a child of; child nodes are left out of node lists unless asked
-- for) and disable_power_off (API 1.95: the node is never powered off), and
-- unique port names (API 1.88; the column exists since 0001).
ALTER TABLE nodes ADD COLUMN parent_node text;
ALTER TABLE nodes ADD COLUMN disable_power_off boolean NOT NULL DEFAULT false;
CREATE INDEX nodes_parent_node_idx ON nodes (parent_node);
CREATE UNIQUE INDEX ports_name_key ON ports (name);
