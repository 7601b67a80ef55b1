-- Every date and time that comes in lies in the years 2000 to 2100 (issue 12, point 3), now
-- also in the database, whatever code path writes it.
--
-- Before the API and the forms bounded them (service/validation.py), asyncpg stored
-- 9999-12-31T23:59:59.999999+00:00 as `infinity` and 0001-01-01 as `-infinity`, and a time in
-- year 9999 or 1 overflows when shown in Europe/Berlin. One such row made the home page, the
-- public list, the staff overviews, attendees' pages and the entrance dashboard with its
-- exports answer 500 for good. Such rows are repaired first, then CHECK constraints keep every
-- column that holds input in [2000-01-01, 2101-01-01): conferences' times and registration
-- window, programme items, forums (and the copy of a forum's time in its sign-ups) and the
-- time a door says it scanned a ticket. Times the server sets itself (now()) are left alone.
--
-- A repaired value is a guess that lets the pages open again; organisers correct it in the
-- usual forms. Rows already in range are not touched.

CREATE FUNCTION pg_temp.in_range(t timestamptz) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT t >= '2000-01-01 00:00:00+00' AND t < '2101-01-01 00:00:00+00'
$$;

-- The nearest moment in range (infinity included).
CREATE FUNCTION pg_temp.clamped(t timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$
    SELECT least(greatest(t, '2000-01-01 00:00:00+00'),
                 timestamptz '2101-01-01 00:00:00+00' - interval '1 microsecond')
$$;

-- A span (start < end) brought into range: an end that is in range stays; a start out of range
-- becomes its hint, else `span` before the end; an end out of range becomes its hint, else
-- `span` after the (new) start; both clamped. Where that leaves no time between them (both
-- beyond the same bound, or a hint past the other end), the span is `span` long from the new
-- start, at most up to the end of 2100.
CREATE FUNCTION pg_temp.bounded_span(
    s timestamptz, e timestamptz, span interval, s_hint timestamptz, e_hint timestamptz,
    OUT new_s timestamptz, OUT new_e timestamptz
)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    new_s := s;
    new_e := e;
    IF NOT pg_temp.in_range(s) THEN
        new_s := pg_temp.clamped(coalesce(s_hint, e - span));
    END IF;
    IF NOT pg_temp.in_range(e) THEN
        new_e := pg_temp.clamped(coalesce(e_hint, new_s + span));
    END IF;
    IF new_e <= new_s THEN
        new_s := least(new_s, timestamptz '2101-01-01 00:00:00+00' - span);
        new_e := pg_temp.clamped(new_s + span);
    END IF;
END
$$;

-- A conference lasts a day; registration opened when the conference was made and closes at
-- its start (the defaults of service/conferences/logic.py), so this runs after the times.
UPDATE conferences c
SET (starts_at, ends_at) = (
    SELECT new_s, new_e FROM pg_temp.bounded_span(c.starts_at, c.ends_at, '1 day', NULL, NULL)
)
WHERE NOT (pg_temp.in_range(c.starts_at) AND pg_temp.in_range(c.ends_at));

UPDATE conferences c
SET (registration_opens_at, registration_closes_at) = (
    SELECT new_s, new_e
    FROM pg_temp.bounded_span(
        c.registration_opens_at, c.registration_closes_at, '1 day',
        least(c.created_at, c.registration_closes_at - interval '1 day'), c.starts_at
    )
)
WHERE NOT (pg_temp.in_range(c.registration_opens_at)
           AND pg_temp.in_range(c.registration_closes_at));

-- A programme item or a forum lasts an hour.
UPDATE programme_items p
SET (starts_at, ends_at) = (
    SELECT new_s, new_e FROM pg_temp.bounded_span(p.starts_at, p.ends_at, '1 hour', NULL, NULL)
)
WHERE NOT (pg_temp.in_range(p.starts_at) AND pg_temp.in_range(p.ends_at));

UPDATE forums f
SET (starts_at, ends_at) = (
    SELECT new_s, new_e FROM pg_temp.bounded_span(f.starts_at, f.ends_at, '1 hour', NULL, NULL)
)
WHERE NOT (pg_temp.in_range(f.starts_at) AND pg_temp.in_range(f.ends_at));

-- The sign-ups' copy of their forum's time, as forums.queries.move_signups_in_time writes it.
-- Where one end was in range the new span lies within the old one, so the exclusion
-- constraint (nobody holds two forums at once) finds no new clash. Two forums that were both
-- wholly beyond the same bound can land on the same hour, though: a person holding both keeps
-- both places, the later sign-up with an empty span (it clashes with nothing) until the
-- organiser gives the forums their real times, which moves every sign-up again.
DO $$
DECLARE
    signup record;
BEGIN
    FOR signup IN
        SELECT s.id, tstzrange(f.starts_at, f.ends_at, '[)') AS during
        FROM forum_signups s JOIN forums f ON f.id = s.forum_id
        WHERE NOT s.during <@ tstzrange('2000-01-01 00:00:00+00', '2101-01-01 00:00:00+00', '[)')
        ORDER BY s.id
    LOOP
        BEGIN
            UPDATE forum_signups SET during = signup.during WHERE id = signup.id;
        EXCEPTION WHEN exclusion_violation THEN
            UPDATE forum_signups SET during = 'empty' WHERE id = signup.id;
        END;
    END LOOP;
END
$$;

-- A scan whose door clock said another century happened, as far as anyone knows, when the
-- server recorded it.
UPDATE scans
SET scanned_at = pg_temp.clamped(recorded_at)
WHERE NOT pg_temp.in_range(scanned_at);

DROP FUNCTION pg_temp.bounded_span(timestamptz, timestamptz, interval, timestamptz, timestamptz);
DROP FUNCTION pg_temp.clamped(timestamptz);
DROP FUNCTION pg_temp.in_range(timestamptz);

-- One ALTER TABLE per table: its new constraints are checked in one pass over the rows.
ALTER TABLE conferences
    ADD CONSTRAINT conferences_starts_at_in_range
        CHECK (starts_at >= '2000-01-01 00:00:00+00' AND starts_at < '2101-01-01 00:00:00+00'),
    ADD CONSTRAINT conferences_ends_at_in_range
        CHECK (ends_at >= '2000-01-01 00:00:00+00' AND ends_at < '2101-01-01 00:00:00+00'),
    ADD CONSTRAINT conferences_registration_opens_at_in_range
        CHECK (registration_opens_at >= '2000-01-01 00:00:00+00'
               AND registration_opens_at < '2101-01-01 00:00:00+00'),
    ADD CONSTRAINT conferences_registration_closes_at_in_range
        CHECK (registration_closes_at >= '2000-01-01 00:00:00+00'
               AND registration_closes_at < '2101-01-01 00:00:00+00');

ALTER TABLE programme_items
    ADD CONSTRAINT programme_items_starts_at_in_range
        CHECK (starts_at >= '2000-01-01 00:00:00+00' AND starts_at < '2101-01-01 00:00:00+00'),
    ADD CONSTRAINT programme_items_ends_at_in_range
        CHECK (ends_at >= '2000-01-01 00:00:00+00' AND ends_at < '2101-01-01 00:00:00+00');

ALTER TABLE forums
    ADD CONSTRAINT forums_starts_at_in_range
        CHECK (starts_at >= '2000-01-01 00:00:00+00' AND starts_at < '2101-01-01 00:00:00+00'),
    ADD CONSTRAINT forums_ends_at_in_range
        CHECK (ends_at >= '2000-01-01 00:00:00+00' AND ends_at < '2101-01-01 00:00:00+00');

ALTER TABLE forum_signups
    ADD CONSTRAINT forum_signups_during_in_range
        CHECK (during <@ tstzrange('2000-01-01 00:00:00+00', '2101-01-01 00:00:00+00', '[)'));

ALTER TABLE scans
    ADD CONSTRAINT scans_scanned_at_in_range
        CHECK (scanned_at >= '2000-01-01 00:00:00+00' AND scanned_at < '2101-01-01 00:00:00+00');
