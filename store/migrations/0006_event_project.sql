-- Who did what: the project of the user on whose behalf a history event was
-- recorded (user_id already holds the user).
ALTER TABLE node_events ADD COLUMN project_id text;
