-- The transactional e-mail outbox. A row is written in the same transaction as the change that
-- causes the mail, so the mail exists exactly when the change does. The rendered message is
-- never stored: mails carry ticket secrets and personal links, so the worker renders each one at
-- send time from `kind`, `ref_id` and `payload`.

CREATE TABLE outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            text NOT NULL CHECK (kind <> ''),
    -- What the mail is about (e.g. a registration id); no foreign key, the outbox is generic.
    ref_id          bigint,
    recipient       text NOT NULL CHECK (recipient LIKE '%_@_%'),
    language        text NOT NULL CHECK (language IN ('de', 'en')),
    payload         jsonb NOT NULL DEFAULT '{}',
    -- Fixed by the first claim and kept for every retry, so that a message sent twice (a crash
    -- between the SMTP server's acceptance and our UPDATE) carries the same Message-ID.
    message_id      text UNIQUE,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sent', 'failed', 'skipped')),
    -- Incremented by every claim; (id, attempts) identifies one claim of one worker.
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    CHECK ((status = 'sent') = (sent_at IS NOT NULL)),
    CHECK (attempts = 0 OR message_id IS NOT NULL)
);

-- The workers' queue: due rows in the order they are claimed.
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at, id) WHERE status = 'pending';
-- "Which mails went out about this registration?" for the domains and for support.
CREATE INDEX outbox_ref_idx ON outbox (ref_id, kind) WHERE ref_id IS NOT NULL;
