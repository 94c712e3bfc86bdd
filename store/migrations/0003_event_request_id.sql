-- A workflow that re-runs a sequence of local activities after a worker crash
-- replays transitions whose effect later ones already superseded. Recording
-- each transition's request ID in the history lets Transition recognise any
-- earlier committed attempt, not only the last one.
ALTER TABLE node_events ADD COLUMN request_id text;
CREATE INDEX node_events_request_id ON node_events (node_id, request_id) WHERE request_id IS NOT NULL;
