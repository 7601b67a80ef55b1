-- registration_confirm: a registration's confirmation (the double opt-in link) in one
-- database round trip. Every confirmation of a conference takes that conference's row lock
-- first (the seat count and the waiting list change only under it); called as one statement,
-- the function holds the lock only for its own work and the commit, with no client round trip
-- in between (bench/README.md, "What limits the registration rush").
--
-- * locks in the one order used everywhere: the conference row, then the registration row
--   (no forum rows are touched here);
-- * the seat is the atomic `UPDATE conferences … WHERE seats_taken < capacity`, else the next
--   place on the waiting list from the sequence waitlist_order, so no overbooking and the
--   waiting list keeps the order in which confirmations were decided;
-- * a second use of the link (status already confirmed or waitlisted) changes nothing, writes
--   no mail and answers the status as it is now;
-- * 'closed' when registration is not open now (registration_opens_at <= now() <
--   registration_closes_at) or the conference has ended: no place, no waiting list, no mail;
--   it comes before 'expired', since a new link would not change it;
-- * a cancelled registration answers 'cancelled', an expired pending one 'expired', a token
--   that matches nothing 'invalid' — nothing is written for any of them;
-- * the mail is the outbox row service.outbox.enqueue writes (same columns, payload given as
--   JSON text and cast ::jsonb as enqueue does) and the same pg_notify(channel, ''), delivered
--   at commit. Python hands in the two mail kinds, the payload text and the channel, so the
--   names and the payload stay defined in Python (registration.logic, service.outbox) and a
--   test compares this row with enqueue's.
-- Nothing here depends on the language: the answer's texts are chosen by the caller.
--
-- Current definition (first in 0011_confirm_function.sql, 'closed' since
-- 0018_calendar_token_and_late_confirmation.sql). Change it here: migrations/README.md.
CREATE OR REPLACE FUNCTION registration_confirm(
    p_confirm_hash bytea,
    p_ticket_kind text,
    p_waitlisted_kind text,
    p_payload text,
    p_channel text,
    OUT o_status text,
    OUT o_manage_salt bytea
)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_id bigint;
    v_conference_id bigint;
    v_open boolean;
    v_expired boolean;
    v_email text;
    v_language text;
BEGIN
    SELECT id, conference_id INTO v_id, v_conference_id
    FROM registrations WHERE confirm_hash = p_confirm_hash;
    IF NOT FOUND THEN
        o_status := 'invalid';
        RETURN;
    END IF;

    SELECT now() >= registration_opens_at AND now() < registration_closes_at
           AND now() < ends_at
    INTO v_open
    FROM conferences WHERE id = v_conference_id FOR UPDATE;
    -- A statement of its own after the lock: it sees what a confirmation or cancellation that
    -- held the lock before us committed.
    SELECT status, confirm_expires_at < now(), manage_salt, email, language
    INTO o_status, v_expired, o_manage_salt, v_email, v_language
    FROM registrations WHERE id = v_id FOR UPDATE;
    IF NOT FOUND THEN
        o_status := 'invalid';
        RETURN;
    END IF;
    IF o_status = 'cancelled' THEN
        o_manage_salt := NULL;
        RETURN;
    END IF;
    IF o_status <> 'pending_confirmation' THEN
        RETURN;  -- the link used again: the same answer, no second mail
    END IF;
    IF NOT v_open THEN
        o_status := 'closed';  -- no place, no waiting list, no mail: registration is over
        o_manage_salt := NULL;
        RETURN;
    END IF;
    IF v_expired THEN
        o_status := 'expired';
        o_manage_salt := NULL;
        RETURN;
    END IF;

    UPDATE conferences SET seats_taken = seats_taken + 1
    WHERE id = v_conference_id AND seats_taken < capacity;
    IF FOUND THEN
        UPDATE registrations
        SET status = 'confirmed', confirmed_at = now(), waitlist_position = NULL,
            updated_at = now()
        WHERE id = v_id;
        o_status := 'confirmed';
    ELSE
        UPDATE registrations
        SET status = 'waitlisted', confirmed_at = NULL,
            waitlist_position = nextval('waitlist_order'), updated_at = now()
        WHERE id = v_id;
        o_status := 'waitlisted';
    END IF;

    INSERT INTO outbox (kind, ref_id, recipient, language, payload)
    VALUES (CASE o_status WHEN 'confirmed' THEN p_ticket_kind ELSE p_waitlisted_kind END,
            v_id, v_email, v_language, p_payload::jsonb);
    -- Wakes a mail worker in any process when this commits (service.outbox.CHANNEL).
    PERFORM pg_notify(p_channel, '');
END
$$;
