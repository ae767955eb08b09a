-- Counts real password changes (reset, operator set-password), not rehashes at login: reset links are
-- signed over it, so they die when the password changes and survive the owner logging in.
ALTER TABLE users ADD COLUMN password_version INTEGER NOT NULL DEFAULT 0;
