-- The team behind a conference (issue 14): staff invited from the web UI, limited to some
-- conferences or not, invitation and password-reset links, door devices paired without a
-- password, and two-factor login.

-- An invited account has no password until the person sets one from the invitation link.
ALTER TABLE staff ALTER COLUMN password_hash DROP NOT NULL;
ALTER TABLE staff ADD COLUMN name text NOT NULL DEFAULT '' CHECK (length(name) <= 200);
-- false: the account sees only the conferences in staff_conferences. An explicit flag, so that
-- deleting a limited account's last conference never widens it to all of them.
ALTER TABLE staff ADD COLUMN all_conferences boolean NOT NULL DEFAULT true;
ALTER TABLE staff ADD COLUMN invited_by bigint REFERENCES staff (id) ON DELETE SET NULL;

CREATE TABLE staff_conferences (
    staff_id      bigint NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    conference_id bigint NOT NULL REFERENCES conferences (id) ON DELETE CASCADE,
    PRIMARY KEY (staff_id, conference_id)
);
CREATE INDEX staff_conferences_conference_idx ON staff_conferences (conference_id);

-- Links sent by e-mail: an invitation (7 days) or a password reset (1 hour); each works once.
-- Only a SHA-256 of the token is kept.
CREATE TABLE staff_links (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    staff_id   bigint NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    purpose    text NOT NULL CHECK (purpose IN ('invitation', 'password_reset')),
    token_hash bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX staff_links_staff_idx ON staff_links (staff_id, purpose);

-- Door devices: a phone paired from a QR code scans for one conference, with no account.
CREATE TABLE devices (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conference_id       bigint NOT NULL REFERENCES conferences (id) ON DELETE CASCADE,
    name                text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    pairing_code_hash   bytea UNIQUE,
    pairing_expires_at  timestamptz NOT NULL,
    paired_at           timestamptz,
    token_hash          bytea UNIQUE,
    created_by          bigint REFERENCES staff (id) ON DELETE SET NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    last_seen_at        timestamptz,
    removed_at          timestamptz,
    CHECK ((paired_at IS NULL) = (token_hash IS NULL))
);
CREATE INDEX devices_conference_idx ON devices (conference_id) WHERE removed_at IS NULL;

-- Two-factor login (TOTP). The secret is needed to check codes, so it is kept; recovery codes
-- are shown once and kept only as hashes.
ALTER TABLE staff ADD COLUMN totp_secret text;
ALTER TABLE staff ADD COLUMN totp_enabled_at timestamptz;
CREATE TABLE staff_recovery_codes (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    staff_id  bigint NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    code_hash bytea NOT NULL,
    used_at   timestamptz,
    UNIQUE (staff_id, code_hash)
);

-- Installation-wide settings an admin changes in the web UI (one row).
CREATE TABLE installation_settings (
    id                 boolean PRIMARY KEY DEFAULT true CHECK (id),
    require_two_factor boolean NOT NULL DEFAULT false
);
INSERT INTO installation_settings DEFAULT VALUES;
