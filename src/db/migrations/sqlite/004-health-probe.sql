-- One row that /healthz rewrites: the health check proves the database can still be written, as a login
-- must (a full disk or a read-only file shows here, not as 500s on logins).
CREATE TABLE health_probe (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  checked_at INTEGER NOT NULL
);
INSERT INTO health_probe (id, checked_at) VALUES (1, 0);
