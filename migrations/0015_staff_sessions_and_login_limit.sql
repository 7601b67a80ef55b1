-- Staff sessions end on logout, password change and deactivation: each session cookie carries
-- the account's session generation from its login, and a request is let in only while it is
-- still the account's current one (service.auth). Raising it ends every session at once.
ALTER TABLE staff ADD COLUMN session_generation integer NOT NULL DEFAULT 0;

-- Login attempts per e-mail address (known or not, so the answer tells nothing), in addition
-- to the limit per client address: taken and checked in one statement (service.login_limit),
-- so that every process counts the same. Losing them in a crash only resets the windows.
CREATE UNLOGGED TABLE login_attempts (
    email             text PRIMARY KEY,
    window_started_at timestamptz NOT NULL DEFAULT now(),
    attempts          integer NOT NULL DEFAULT 1 CHECK (attempts >= 1)
);
CREATE INDEX login_attempts_window_idx ON login_attempts (window_started_at);
