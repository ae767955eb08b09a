-- Times are Unix epoch milliseconds.

-- AUTOINCREMENT: an id is never handed out twice, so a token naming a deleted user can never
-- come back to life as somebody else.
CREATE TABLE users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  email TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  superhero_name TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL DEFAULT '',
  gender TEXT NOT NULL DEFAULT '',
  preferences TEXT NOT NULL DEFAULT '',
  dob TEXT,
  bio TEXT NOT NULL DEFAULT '',
  profile_picture TEXT,
  is_active INTEGER NOT NULL DEFAULT 1,
  is_staff INTEGER NOT NULL DEFAULT 0,
  is_superuser INTEGER NOT NULL DEFAULT 0,
  last_login_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

-- One row per login: a JWT pair's family (id = the `sid` claim) or an opaque token (id = its hash).
-- Deleting the row ends the session; deleting the user ends all of them.
CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('jwt', 'token')),
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- Single JWTs revoked before their expiry (blacklisted refresh tokens, rotated-out refresh tokens).
CREATE TABLE revoked_jwts (
  jti TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX revoked_jwts_expiry ON revoked_jwts (expires_at);

CREATE TABLE pending_registrations (
  email TEXT PRIMARY KEY,
  code_hash TEXT NOT NULL,
  failed_attempts INTEGER NOT NULL DEFAULT 0,
  expires_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;

-- A sliding log per throttle bucket; rows older than the longest window are purged.
CREATE TABLE throttle_events (
  bucket TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX throttle_events_bucket ON throttle_events (bucket, at);

-- Mail waiting for delivery. Bodies carry codes and links, so they are stored encrypted and are
-- dropped once the message is delivered.
CREATE TABLE outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  recipient TEXT NOT NULL,
  subject TEXT NOT NULL,
  sealed_body BLOB,
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  sent_at INTEGER
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
