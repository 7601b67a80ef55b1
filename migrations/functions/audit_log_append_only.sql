-- audit_log_append_only: the trigger function that refuses UPDATE, DELETE and TRUNCATE on the
-- audit log, for every role including the table's owner (the log is append-only).
-- Current definition (first in 0021_audit_log.sql). Change it here: migrations/README.md.
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
