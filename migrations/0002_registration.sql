-- Attendees' registrations with double opt-in, the waiting list, tickets, and consents.
--
-- Tokens (confirmation link, self-service link, ticket) are never stored: each is derived from
-- the server's SECRET_KEY and a random salt kept here, and looked up by its SHA-256. A copy of
-- the database alone therefore yields no working link and no valid ticket.

CREATE SEQUENCE waitlist_order;

CREATE TABLE registrations (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conference_id      bigint NOT NULL REFERENCES conferences (id) ON DELETE CASCADE,
    email              text NOT NULL CHECK (email = lower(email) AND email LIKE '%_@_%'),
    name               text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    organisation       text NOT NULL DEFAULT '' CHECK (length(organisation) <= 200),
    category           text NOT NULL CHECK (category IN ('volunteer', 'full_time_staff',
                           'association', 'speaker', 'press', 'exhibitor_staff')),
    language           text NOT NULL CHECK (language IN ('de', 'en')),
    -- Special-category data (GDPR Art. 9): only stored with the matching consent.
    needs              jsonb NOT NULL DEFAULT '{}',
    status             text NOT NULL DEFAULT 'pending_confirmation'
                           CHECK (status IN ('pending_confirmation', 'confirmed', 'waitlisted',
                                             'cancelled')),
    confirm_salt       bytea NOT NULL,
    confirm_hash       bytea NOT NULL UNIQUE,
    confirm_expires_at timestamptz NOT NULL,
    manage_salt        bytea NOT NULL,
    manage_hash        bytea NOT NULL UNIQUE,
    -- A new salt (re-sending a ticket after a leak) makes a new ticket; the old one stops working.
    ticket_salt        bytea NOT NULL,
    ticket_hash        bytea NOT NULL UNIQUE,
    waitlist_position  bigint,  -- from waitlist_order: the order of the waiting list
    calendar_sequence  integer NOT NULL DEFAULT 0,
    created_at         timestamptz NOT NULL DEFAULT now(),
    confirmed_at       timestamptz,
    cancelled_at       timestamptz,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'waitlisted') = (waitlist_position IS NOT NULL)),
    CHECK ((status = 'confirmed') <= (confirmed_at IS NOT NULL))
);
-- One registration per address and conference; after a cancellation the address may register anew.
CREATE UNIQUE INDEX registrations_one_per_address
    ON registrations (conference_id, email) WHERE status <> 'cancelled';
CREATE INDEX registrations_waitlist
    ON registrations (conference_id, waitlist_position) WHERE status = 'waitlisted';
CREATE INDEX registrations_conference ON registrations (conference_id, id);

CREATE TABLE consents (
    registration_id bigint NOT NULL REFERENCES registrations (id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('privacy', 'special_category', 'photos')),
    text_version    text NOT NULL,
    given_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (registration_id, kind)
);
