-- Forums: parallel sessions with their own capacity, per-forum waiting lists, and the rule that
-- nobody holds two forums at overlapping times (an exclusion constraint, so it holds under
-- any concurrency), plus attendance taken at the forum's door.

CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE forums (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conference_id     bigint NOT NULL REFERENCES conferences (id) ON DELETE CASCADE,
    title             text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    title_en          text NOT NULL DEFAULT '' CHECK (length(title_en) <= 200),
    description       text NOT NULL DEFAULT '',
    description_en    text NOT NULL DEFAULT '',
    room              text NOT NULL DEFAULT '',
    starts_at         timestamptz NOT NULL,
    ends_at           timestamptz NOT NULL,
    capacity          integer NOT NULL CHECK (capacity >= 0),
    seats_taken       integer NOT NULL DEFAULT 0
                          CHECK (seats_taken >= 0 AND seats_taken <= capacity),
    language          text NOT NULL DEFAULT 'de',
    interpretation    text NOT NULL DEFAULT '',
    accessibility     text NOT NULL DEFAULT '',
    moderators        text NOT NULL DEFAULT '',
    cancelled_at      timestamptz,
    -- Grows with every change people must hear of (time, room, cancellation): calendar SEQUENCE.
    calendar_sequence integer NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at)
);
CREATE INDEX forums_conference ON forums (conference_id, starts_at, id);

CREATE SEQUENCE forum_waitlist_order;

CREATE TABLE forum_signups (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    forum_id          bigint NOT NULL REFERENCES forums (id) ON DELETE CASCADE,
    registration_id   bigint NOT NULL REFERENCES registrations (id) ON DELETE CASCADE,
    status            text NOT NULL CHECK (status IN ('confirmed', 'waitlisted', 'left')),
    waitlist_position bigint,
    -- The forum's time, kept here so the exclusion constraint can see it.
    during            tstzrange NOT NULL,
    -- Grows when this person's entry changes (joined again, left): with the forum's own
    -- sequence it makes the calendar SEQUENCE.
    changes           integer NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (forum_id, registration_id),
    CHECK ((status = 'waitlisted') = (waitlist_position IS NOT NULL)),
    EXCLUDE USING gist (registration_id WITH =, during WITH &&) WHERE (status = 'confirmed')
);
CREATE INDEX forum_signups_waitlist
    ON forum_signups (forum_id, waitlist_position) WHERE status = 'waitlisted';
CREATE INDEX forum_signups_registration ON forum_signups (registration_id);

CREATE TABLE forum_attendance (
    forum_id        bigint NOT NULL REFERENCES forums (id) ON DELETE CASCADE,
    registration_id bigint NOT NULL REFERENCES registrations (id) ON DELETE CASCADE,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    scans           integer NOT NULL DEFAULT 1,
    PRIMARY KEY (forum_id, registration_id)
);
