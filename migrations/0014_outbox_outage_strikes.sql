-- How often an SMTP failure of the kind that looks like an outage (a timeout, a dropped
-- connection, 421) came while this row was being sent, just after the server had accepted
-- other mail. A relay that hangs on or drops one recipient looks exactly like that; counting
-- it lets the worker blame the row (its attempts are then used up) instead of giving every
-- row back untried, forever, with this one first in line (service/outbox.py).
ALTER TABLE outbox
    ADD COLUMN outage_strikes integer NOT NULL DEFAULT 0 CHECK (outage_strikes >= 0);
