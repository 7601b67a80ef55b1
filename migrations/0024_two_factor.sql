-- Two-factor login (issue 14), beyond what 0020 made: the time step of the last code an
-- account logged in with. A code is taken only for a later step than this one, in one UPDATE,
-- so a code read over someone's shoulder (or sent twice at once) logs in at most once.
ALTER TABLE staff ADD COLUMN totp_last_step bigint;

-- Two-factor login is on only with a secret to check codes against.
ALTER TABLE staff ADD CONSTRAINT staff_totp_enabled_has_secret
    CHECK (totp_enabled_at IS NULL OR totp_secret IS NOT NULL);
