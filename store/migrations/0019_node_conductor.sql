-- The worker (its Temporal identity) whose operation last moved the node's
-- provision state: the node's "conductor" in the API ('' = none yet).
ALTER TABLE nodes ADD COLUMN conductor text NOT NULL DEFAULT '';
