-- checkin_scan_by_token: the door's scan with the scanner's API token checked in the same
-- statement, one round trip per scan instead of two (token lookup, then checkin_scan). The
-- lookup is the one service.auth.staff_by_token makes (known, not revoked, staff not
-- disabled); every staff role may scan, so a known token is enough. An unknown token answers
-- {"refused": "unauthorized"}, which the handler turns into 401, and records nothing.
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
BEGIN
    SELECT s.id, 'token:' || t.id INTO v_staff_id, v_device
    FROM api_tokens t JOIN staff s ON s.id = t.staff_id
    WHERE t.token_hash = p_token_hash AND t.revoked_at IS NULL AND NOT s.disabled;
    IF NOT FOUND THEN
        RETURN '{"refused": "unauthorized"}';
    END IF;
    RETURN checkin_scan(v_device, v_staff_id, p_conference_slug, p_ticket_hash, p_gate, p_kind,
                        p_nonce, false, NULL, p_max_failures, p_labels);
END
$$;
