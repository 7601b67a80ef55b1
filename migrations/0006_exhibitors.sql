-- The market of opportunities: a stand catalogue with positions on the floor plan, booking
-- requests by organisations (double opt-in, then review), and passes for their stand staff.

CREATE TABLE stands (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conference_id bigint NOT NULL REFERENCES conferences (id) ON DELETE CASCADE,
    code          text NOT NULL CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9.-]{0,11}$'),
    area          text NOT NULL DEFAULT '' CHECK (length(area) <= 100),
    width_m       numeric(6, 2) NOT NULL CHECK (width_m > 0 AND width_m <= 100),
    depth_m       numeric(6, 2) NOT NULL CHECK (depth_m > 0 AND depth_m <= 100),
    features      text[] NOT NULL DEFAULT '{}'
                      CHECK (features <@ '{power,wall,corner,table}'::text[]),
    price_cents   integer NOT NULL DEFAULT 0 CHECK (price_cents >= 0),
    -- Position of the stand's top-left corner on the floor plan, in metres.
    x             numeric(7, 2) NOT NULL DEFAULT 0 CHECK (x >= 0),
    y             numeric(7, 2) NOT NULL DEFAULT 0 CHECK (y >= 0),
    max_staff     integer NOT NULL DEFAULT 3 CHECK (max_staff BETWEEN 0 AND 50),
    blocked       boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (conference_id, code)
);

CREATE SEQUENCE exhibitor_waitlist_order;

CREATE TABLE exhibitor_bookings (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conference_id      bigint NOT NULL REFERENCES conferences (id) ON DELETE CASCADE,
    organisation       text NOT NULL CHECK (length(organisation) BETWEEN 1 AND 200),
    kind               text NOT NULL CHECK (kind IN ('association', 'welfare_association',
                           'agency', 'municipality', 'initiative', 'other')),
    contact_name       text NOT NULL CHECK (length(contact_name) BETWEEN 1 AND 200),
    email              text NOT NULL CHECK (email = lower(email) AND email LIKE '%_@_%'),
    phone              text NOT NULL DEFAULT '' CHECK (length(phone) <= 50),
    website            text NOT NULL DEFAULT '' CHECK (website = '' OR website ~ '^https?://'),
    description        text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
    description_en     text NOT NULL DEFAULT '' CHECK (length(description_en) <= 2000),
    topics             text[] NOT NULL DEFAULT '{}',
    wished_width_m     numeric(6, 2) CHECK (wished_width_m > 0),
    wished_depth_m     numeric(6, 2) CHECK (wished_depth_m > 0),
    wished_features    text[] NOT NULL DEFAULT '{}'
                           CHECK (wished_features <@ '{power,wall,corner,table}'::text[]),
    staff_count        integer NOT NULL CHECK (staff_count BETWEEN 0 AND 50),
    language           text NOT NULL DEFAULT 'de' CHECK (language IN ('de', 'en')),
    status             text NOT NULL DEFAULT 'pending_confirmation'
                           CHECK (status IN ('pending_confirmation', 'requested', 'approved',
                                             'waitlisted', 'rejected', 'cancelled')),
    -- One stand is never assigned twice: the database refuses a second approval onto it.
    stand_id           bigint UNIQUE REFERENCES stands (id),
    waitlist_position  bigint,
    reason             text NOT NULL DEFAULT '' CHECK (length(reason) <= 1000),
    confirm_salt       bytea NOT NULL,
    confirm_hash       bytea NOT NULL UNIQUE,
    confirm_expires_at timestamptz NOT NULL,
    manage_salt        bytea NOT NULL,
    manage_hash        bytea NOT NULL UNIQUE,
    created_at         timestamptz NOT NULL DEFAULT now(),
    confirmed_at       timestamptz,
    decided_at         timestamptz,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'approved') = (stand_id IS NOT NULL)),
    CHECK ((status = 'waitlisted') = (waitlist_position IS NOT NULL))
);
CREATE UNIQUE INDEX exhibitor_bookings_one_per_address
    ON exhibitor_bookings (conference_id, email) WHERE status <> 'cancelled';
CREATE INDEX exhibitor_bookings_queue ON exhibitor_bookings (conference_id, status, id);

-- A pass is a registration of category exhibitor_staff (the entrance accepts it like any
-- ticket); this table says which booking it belongs to.
CREATE TABLE exhibitor_passes (
    booking_id      bigint NOT NULL REFERENCES exhibitor_bookings (id) ON DELETE CASCADE,
    registration_id bigint NOT NULL UNIQUE REFERENCES registrations (id) ON DELETE CASCADE,
    PRIMARY KEY (booking_id, registration_id)
);
