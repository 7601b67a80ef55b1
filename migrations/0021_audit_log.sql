-- The audit log (issue 14): who did what, when, on which subject, written in the same
-- transaction as the action. Append-only: a trigger refuses UPDATE, DELETE and TRUNCATE, also
-- for the table's owner.
--
-- The log itself holds no personal data: the actor and subject are kept as ids and kinds,
-- `details` names changed fields, never their values. What names a person (the staff e-mail
-- at the time, a failed login's address, a device's name) is in audit_labels, which the
-- retention purge may empty; the entries stay.

CREATE TABLE audit_log (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at             timestamptz NOT NULL DEFAULT clock_timestamp(),
    conference_id  bigint,                 -- no foreign key: the log outlives what it names
    actor_staff_id bigint,
    actor_device_id bigint,
    action         text NOT NULL CHECK (action ~ '^[a-z_]+\.[a-z_]+$'),
    subject_type   text NOT NULL DEFAULT '',
    subject_id     text NOT NULL DEFAULT '',
    details        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_conference_idx ON audit_log (conference_id, id DESC);
CREATE INDEX audit_log_action_idx ON audit_log (action, id DESC);

CREATE TABLE audit_labels (
    entry_id bigint PRIMARY KEY REFERENCES audit_log (id),
    actor    text NOT NULL DEFAULT '',
    subject  text NOT NULL DEFAULT ''
);

CREATE FUNCTION audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_log_no_update_or_delete
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
