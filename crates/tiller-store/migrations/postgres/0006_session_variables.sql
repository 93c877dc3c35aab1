-- The variables a session was started with (a JSON object as text): the `variables` of
-- the first inbound message, later a workflow's per-contact variables. `session.end`
-- carries them. NULL reads as `{}`.
ALTER TABLE sessions ADD COLUMN variables TEXT;
