-- The entrance: who is inside (one atomic UPDATE decides an entry, so a ticket is admitted
-- exactly once however many doors scan it at the same moment), and every scan as it was
-- decided, for the dashboard, for later questions and for answering a retried scan again.

ALTER TABLE registrations
    ADD COLUMN inside boolean NOT NULL DEFAULT false,
    ADD COLUMN entered_at timestamptz,
    ADD COLUMN entered_gate text;

CREATE TABLE scans (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conference_id   bigint REFERENCES conferences (id) ON DELETE CASCADE,
    registration_id bigint REFERENCES registrations (id) ON DELETE SET NULL,
    device          text NOT NULL,
    staff_id        bigint REFERENCES staff (id) ON DELETE SET NULL,
    nonce           text CHECK (length(nonce) <= 100),
    gate            text NOT NULL DEFAULT '' CHECK (length(gate) <= 50),
    type            text NOT NULL CHECK (type IN ('entry', 'exit', 'undo', 'manual')),
    status          text NOT NULL CHECK (status IN ('ok', 'error')),
    reason          text,
    response        jsonb NOT NULL,
    offline         boolean NOT NULL DEFAULT false,
    scanned_at      timestamptz NOT NULL DEFAULT now(),
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (device, nonce)
);
CREATE INDEX scans_conference ON scans (conference_id, scanned_at);
CREATE INDEX scans_device_errors ON scans (device, recorded_at) WHERE status = 'error';
CREATE INDEX registrations_inside ON registrations (conference_id) WHERE inside;
