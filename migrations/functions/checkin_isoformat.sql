-- checkin_isoformat: a timestamptz as Python's datetime.isoformat() writes asyncpg's (UTC)
-- value, 2026-11-25T10:00:00.123456+00:00, without the fraction when it is zero; checkin_scan
-- writes its answer's times with it, so the JSON is the one Python wrote before.
-- Current definition (first in 0008_checkin_function.sql). Change it here: migrations/README.md.
CREATE OR REPLACE FUNCTION checkin_isoformat(t timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
        || CASE WHEN date_trunc('second', t) = t THEN ''
                ELSE to_char(t AT TIME ZONE 'UTC', '.US') END
        || '+00:00'
$$;
