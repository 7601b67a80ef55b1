-- checkin_scan_by_token: the door's scan with its Bearer token checked in the same statement,
-- one round trip per scan instead of two (token lookup, then checkin_scan). The token is
-- either a staff member's API token (the lookup service.auth.staff_by_token makes: known, not
-- revoked, staff not disabled; every staff role may scan) or a paired door device's
-- (devices.token_hash, not removed). An unknown token answers {"refused": "unauthorized"},
-- which the handler turns into 401, and records nothing.
--
-- A door device scans for its own conference only and under its own name: p_gate is replaced
-- by the device's name, and a scan naming another conference gets the answer a ticket of
-- another conference gets (error / other_conference), admits nobody and is not recorded (it
-- would land among that other conference's scans). The device's last_seen_at moves on at most
-- once a minute, so that a busy door does not write its row on every scan.
--
-- Current definition (first in 0010_checkin_by_token.sql). Change it here: migrations/README.md.
CREATE OR REPLACE FUNCTION checkin_scan_by_token(
    p_token_hash bytea,
    p_conference_slug text,
    p_ticket_hash bytea,
    p_gate text,
    p_kind text,
    p_nonce text,
    p_max_failures integer,
    p_labels jsonb
) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_staff_id bigint;
    v_device text;
    v_gate text := p_gate;
    v_device_id bigint;
    v_device_conference bigint;
    v_last_seen timestamptz;
BEGIN
    SELECT s.id, 'token:' || t.id INTO v_staff_id, v_device
    FROM api_tokens t JOIN staff s ON s.id = t.staff_id
    WHERE t.token_hash = p_token_hash AND t.revoked_at IS NULL AND NOT s.disabled;
    IF NOT FOUND THEN
        SELECT d.id, d.conference_id, d.name, d.last_seen_at
        INTO v_device_id, v_device_conference, v_gate, v_last_seen
        FROM devices d
        WHERE d.token_hash = p_token_hash AND d.removed_at IS NULL;
        IF NOT FOUND THEN
            RETURN '{"refused": "unauthorized"}';
        END IF;
        v_device := 'device:' || v_device_id;
        IF v_last_seen IS NULL OR v_last_seen < now() - interval '1 minute' THEN
            UPDATE devices SET last_seen_at = now() WHERE id = v_device_id;
        END IF;
        IF NOT EXISTS (
            SELECT 1 FROM conferences WHERE id = v_device_conference AND slug = p_conference_slug
        ) THEN
            RETURN jsonb_build_object(
                'status', 'error',
                'reason', 'other_conference',
                'attendee', NULL,
                'checked_in_at', NULL,
                'gate', NULL
            );
        END IF;
    END IF;
    RETURN checkin_scan(v_device, v_staff_id, p_conference_slug, p_ticket_hash, v_gate, p_kind,
                        p_nonce, false, NULL, p_max_failures, p_labels);
END
$$;
