-- Whether the owner of the address has proved it: a registration code or a completed reset link, both
-- mailed to it. A kitchen sign-up or an operator's create proves nothing, so the address's owner may
-- claim such an account later (contract §2). Accounts made before this column count as unproved: only
-- the address's owner can claim one, which gives nothing a reset link would not.
ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0;
