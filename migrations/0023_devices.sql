-- Door devices (issue 14): a device's name is the gate name of its scans, and scans.gate
-- holds at most 50 characters, so a name may not be longer (0020 allowed 100). Two doors of
-- one conference with the same name could not be told apart on the entrance dashboard: a
-- name is unique among the conference's devices that have not been removed.
ALTER TABLE devices DROP CONSTRAINT devices_name_check;
ALTER TABLE devices ADD CONSTRAINT devices_name_check CHECK (length(name) BETWEEN 1 AND 50);
CREATE UNIQUE INDEX devices_name_unique ON devices (conference_id, lower(name))
    WHERE removed_at IS NULL;
