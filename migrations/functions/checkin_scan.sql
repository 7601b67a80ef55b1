-- checkin_scan: a scan at the entrance in one database round trip: the retry lookup, the
-- guessing check, the decision, its record and the live notification in one function, called
-- as one statement (a single statement is atomic without BEGIN/COMMIT). The entry is the one
-- atomic `UPDATE … WHERE … AND NOT inside`, so a ticket is admitted exactly once however many
-- doors scan it at the same moment.
--
-- p_ticket_hash is NULL for a code that cannot be a ticket; p_labels maps categories to their
-- labels in the caller's language. Returns the decision, the stored one for a retried nonce,
-- or {"refused": "too_many_failures"} (nothing recorded) when an unknown code comes from a
-- device that already sent p_max_failures unknown codes in the last minute.
--
-- A staff member limited to some conferences (staff.all_conferences false) scans only for
-- those: any other conference is taken for an unknown one (a ticket there is `other_conference`,
-- nobody is admitted, and the scan is not recorded among that conference's scans), the rule of
-- service.conferences.lookups.check_scope. It is read with the conference, in the same
-- statement: the staff row and the staff_conferences row by their primary keys. p_staff_id is
-- NULL for a paired door device, which checkin_scan_by_token has held to its own conference.
--
-- Current definition (first in 0008_checkin_function.sql). Change it here: migrations/README.md.
CREATE OR REPLACE FUNCTION checkin_scan(
    p_device text,
    p_staff_id bigint,
    p_conference_slug text,
    p_ticket_hash bytea,
    p_gate text,
    p_kind text,
    p_nonce text,
    p_offline boolean,
    p_scanned_at timestamptz,
    p_max_failures integer,
    p_labels jsonb
) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_stored jsonb;
    v_found boolean := false;
    v_id bigint;
    v_person_conference bigint;
    v_name text;
    v_category text;
    v_organisation text;
    v_person_status text;
    v_conference_id bigint;
    v_in_scope boolean;
    v_attendee jsonb;
    v_status text := 'error';
    v_reason text;
    v_at timestamptz;
    v_gate text;
    v_decision jsonb;
BEGIN
    IF coalesce(p_nonce, '') <> '' THEN
        -- Two copies of one retried request may arrive together: let them take turns.
        PERFORM pg_advisory_xact_lock(hashtextextended(p_device || E'\n' || p_nonce, 0));
        SELECT response INTO v_stored FROM scans WHERE device = p_device AND nonce = p_nonce;
        IF v_stored IS NOT NULL THEN
            RETURN v_stored;
        END IF;
    END IF;

    IF p_ticket_hash IS NOT NULL THEN
        SELECT id, conference_id, name, category, organisation, status
        INTO v_id, v_person_conference, v_name, v_category, v_organisation, v_person_status
        FROM registrations WHERE ticket_hash = p_ticket_hash;
        v_found := FOUND;
    END IF;

    -- Only a code that matches no ticket can be a guess; valid tickets never wait for this
    -- count, and a guessing device is stopped before anything is recorded for it.
    IF NOT v_found AND (
        SELECT count(*) FROM scans
        WHERE device = p_device AND status = 'error' AND reason = 'invalid'
          AND recorded_at > now() - interval '1 minute'
    ) >= p_max_failures THEN
        RETURN jsonb_build_object('refused', 'too_many_failures');
    END IF;

    IF v_found THEN
        v_attendee := jsonb_build_object(
            'name', v_name,
            'category', v_category,
            'category_label', coalesce(p_labels ->> v_category, v_category),
            'organisation', v_organisation
        );
    END IF;

    SELECT c.id, p_staff_id IS NULL OR coalesce(s.all_conferences OR sc.staff_id IS NOT NULL, false)
    INTO v_conference_id, v_in_scope
    FROM conferences c
    LEFT JOIN staff s ON s.id = p_staff_id
    LEFT JOIN staff_conferences sc ON sc.staff_id = p_staff_id AND sc.conference_id = c.id
    WHERE c.slug = p_conference_slug;
    IF NOT v_in_scope THEN
        v_conference_id := NULL;
    END IF;
    IF v_conference_id IS NULL THEN
        v_reason := CASE WHEN v_found THEN 'other_conference' ELSE 'invalid' END;
        v_attendee := NULL;
    ELSIF NOT v_found THEN
        v_reason := 'invalid';
    ELSIF v_person_conference <> v_conference_id THEN
        v_reason := 'other_conference';
        v_attendee := NULL;
    ELSIF v_person_status = 'cancelled' THEN
        v_reason := 'cancelled';
    ELSIF v_person_status <> 'confirmed' THEN
        v_reason := 'not_confirmed';
    ELSIF p_kind = 'exit' THEN
        UPDATE registrations SET inside = false WHERE id = v_id AND inside
        RETURNING now() INTO v_at;
        v_status := 'ok';
        v_gate := p_gate;
    ELSE
        UPDATE registrations SET inside = true, entered_at = now(), entered_gate = p_gate
        WHERE id = v_id AND status = 'confirmed' AND NOT inside
        RETURNING entered_at INTO v_at;
        IF FOUND THEN
            v_status := 'ok';
            v_gate := p_gate;
        ELSE
            -- A statement of its own, with a snapshot of its own: it sees the entry that
            -- won, committed by another door while this UPDATE waited for the row.
            SELECT entered_at, entered_gate INTO v_at, v_gate FROM registrations WHERE id = v_id;
            v_reason := 'already_checked_in';
        END IF;
    END IF;

    v_decision := jsonb_build_object(
        'status', v_status,
        'reason', v_reason,
        'attendee', v_attendee,
        'checked_in_at', checkin_isoformat(v_at),
        'gate', v_gate
    );
    INSERT INTO scans (conference_id, registration_id, device, staff_id, nonce, gate, type,
                       status, reason, response, offline, scanned_at)
    VALUES (v_conference_id, v_id, p_device, p_staff_id, p_nonce, p_gate, p_kind,
            v_status, v_reason, v_decision, p_offline, coalesce(p_scanned_at, now()));
    IF v_conference_id IS NOT NULL THEN
        -- Live dashboards in any process hear of it when this commits
        -- (registration.checkin.CHECKIN_CHANNEL).
        PERFORM pg_notify('tagung_checkin', v_conference_id::text);
    END IF;
    RETURN v_decision;
END
$$;
