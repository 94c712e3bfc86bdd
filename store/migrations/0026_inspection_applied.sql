-- Posted inspection data is kept, marked applied, by the transaction that
-- applies the inspection rules (or right after the hooks' changes when
-- there are none), rather than deleted: an inspection activity retried after
-- a crash then tells "applied already" (do nothing again) from "gone"
-- (fail). The next inspection's post replaces the row.
ALTER TABLE inspection_data ADD COLUMN applied_at timestamptz;
