-- Two fixes from issue 12, point 8.
--
-- 1. The calendar subscription gets its own read-only token. Until now the feed's address was
--    the self-service link, which can also cancel and erase, and a subscription address ends
--    up in calendar services and shared calendars. The feed token is derived like the others
--    (service/tokens.py: HMAC of SECRET_KEY, purpose "calendar-feed", the registration's
--    manage_salt) and only its SHA-256 is kept here, to find the row. It opens the feed and
--    nothing else. New registrations get the digest with their other hashes; for the rows
--    from before this migration it cannot be computed here (the database never sees
--    SECRET_KEY), so registration/views.py writes it the first time it shows the address.
ALTER TABLE registrations ADD COLUMN calendar_hash bytea UNIQUE;

-- 2. A confirmation link mailed while registration was open took a place after the window
--    had closed and even after the conference had ended. The confirmation now decides, under
--    the conference row's lock and in the same statement that takes the place, whether
--    registration is open now (registration_opens_at <= now() < registration_closes_at, as
--    conferences.registration_open says) and the conference has not ended; if not, it answers
--    'closed' and writes nothing. Everything else is as in 0011 (same signature and answers;
--    a link used again still answers the status it has, a cancelled registration 'cancelled').
--    'closed' comes before 'expired': it tells the person what a new link would not change.
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
