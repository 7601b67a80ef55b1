-- Staff, their device tokens, a small key-value store shared by all processes,
-- conferences and their programme.

CREATE TABLE staff (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         text NOT NULL CHECK (email = lower(email) AND email LIKE '%_@_%'),
    role          text NOT NULL CHECK (role IN ('admin', 'organiser', 'scanner')),
    password_hash text NOT NULL,
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX staff_email_key ON staff (email);

-- API tokens for scanning devices and scripts: only a SHA-256 of the token is kept.
CREATE TABLE api_tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    staff_id     bigint NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    token_hash   bytea NOT NULL UNIQUE,
    label        text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_tokens_staff_idx ON api_tokens (staff_id);

-- Backs Litestar stores (the login rate limit) so that every process sees the same counts.
CREATE UNLOGGED TABLE kv_store (
    namespace  text NOT NULL,
    key        text NOT NULL,
    value      bytea NOT NULL,
    expires_at timestamptz,
    PRIMARY KEY (namespace, key)
);

CREATE TABLE conferences (
    id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug                   text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 80),
    title                  text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    description            text NOT NULL DEFAULT '',
    venue                  text NOT NULL CHECK (length(venue) BETWEEN 1 AND 200),
    address                text NOT NULL DEFAULT '',
    starts_at              timestamptz NOT NULL,
    ends_at                timestamptz NOT NULL,
    timezone               text NOT NULL DEFAULT 'Europe/Berlin',
    capacity               integer NOT NULL CHECK (capacity >= 0),
    -- Places held by confirmed registrations; the registration domain moves it atomically.
    seats_taken            integer NOT NULL DEFAULT 0 CHECK (seats_taken >= 0 AND seats_taken <= capacity),
    registration_opens_at  timestamptz NOT NULL DEFAULT now(),
    registration_closes_at timestamptz NOT NULL,
    languages              text[] NOT NULL DEFAULT '{de,en}' CHECK (languages <@ '{de,en}' AND cardinality(languages) > 0),
    organiser_name         text NOT NULL DEFAULT '',
    organiser_email        text NOT NULL DEFAULT '',
    published              boolean NOT NULL DEFAULT true,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at),
    CHECK (registration_closes_at > registration_opens_at)
);
CREATE INDEX conferences_starts_idx ON conferences (starts_at, id);

CREATE TABLE programme_items (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conference_id bigint NOT NULL REFERENCES conferences (id) ON DELETE CASCADE,
    title         text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    kind          text NOT NULL CHECK (kind IN ('plenary', 'forums', 'market', 'break')),
    starts_at     timestamptz NOT NULL,
    ends_at       timestamptz NOT NULL,
    room          text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at)
);
CREATE INDEX programme_items_conference_idx ON programme_items (conference_id, starts_at);
