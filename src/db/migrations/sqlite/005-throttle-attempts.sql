-- Throttle events get an id and a pending flag. A login's attempt is counted from the moment it is let
-- through, before its password check, as a pending row: parallel guesses through several workers (or,
-- later, nodes) can no longer all pass the check before the first failure is written. A success deletes
-- its row; a failure clears the flag.
CREATE TABLE throttle_attempts (
  id INTEGER PRIMARY KEY,
  bucket TEXT NOT NULL,
  at INTEGER NOT NULL,
  pending INTEGER NOT NULL DEFAULT 0
);
INSERT INTO throttle_attempts (bucket, at) SELECT bucket, at FROM throttle_events;
DROP TABLE throttle_events;
ALTER TABLE throttle_attempts RENAME TO throttle_events;
CREATE INDEX throttle_events_bucket ON throttle_events (bucket, at);
