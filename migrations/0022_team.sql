-- Staff accounts from the web UI (issue 14, service/team/): the links in invitation and
-- password-reset mails, and a cheap "last login" for the team list.

-- A link's token is derived, not stored: HMAC(SECRET_KEY, purpose | salt), as every other link
-- of the app (service/tokens.py). The outbox renders the mail at send time from the salt, so
-- neither the outbox nor a copy of the database holds a working link; token_hash finds the row
-- when the link comes back. staff_links is new in 0020 and still empty, so NOT NULL holds.
ALTER TABLE staff_links ADD COLUMN salt bytea NOT NULL CHECK (length(salt) = 16);

-- The newest login of each account, for the team list: one index probe per account instead
-- of a scan of every login in the log.
CREATE INDEX audit_log_staff_login_idx ON audit_log (actor_staff_id, id DESC)
    WHERE action = 'staff.login';
