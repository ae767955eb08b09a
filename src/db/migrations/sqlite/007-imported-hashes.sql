-- Users whose hash another system wrote (Django's pbkdf2, argon2, …; see services/password-formats.ts)
-- until their first login replaces it with bcrypt. While any remain, every login spends one check of
-- their format, so that an imported account is not told apart by its timing; this index finds one
-- without reading the table. Sidekick's bcrypt hashes start with `$`, unusable ones with `!`.
CREATE INDEX users_imported_hash ON users (id) WHERE substr(password_hash, 1, 1) NOT IN ('$', '!');
