-- The kitchen profile's phone number (contract §3), blank until set, as name and bio are.
ALTER TABLE users ADD COLUMN phone_number TEXT NOT NULL DEFAULT '';
