-- Mails that anyone can make us send to an address (confirmation requests and their re-sends,
-- exhibitors' requests, stand-staff passes) are counted per address and hour in one statement
-- (service/mail_quota.py); beyond a few an hour they are dropped, whichever process and form
-- the requests come through. The address is kept only as a hash, and rows of past hours are
-- deleted by the same statement.
CREATE TABLE mail_quota (
    address_hash bytea NOT NULL CHECK (length(address_hash) = 32),
    hour         timestamptz NOT NULL,
    sent         integer NOT NULL DEFAULT 1 CHECK (sent > 0),
    PRIMARY KEY (address_hash, hour)
);
CREATE INDEX mail_quota_hour ON mail_quota (hour);

-- A stand-staff pass is a registration of its own, also for someone who is registered for
-- the conference already (as an attendee or named by another exhibitor): the exhibitor that
-- names a person must not learn whether that person is registered, so it gets the same pass
-- either way. One registration per address and conference therefore holds for attendees
-- only; an exhibitor names an address once per stand (exhibitors.logic, under the booking's
-- row lock).
DROP INDEX registrations_one_per_address;
CREATE UNIQUE INDEX registrations_one_per_address
    ON registrations (conference_id, email)
    WHERE status <> 'cancelled' AND category <> 'exhibitor_staff';
-- Erasure finds all of a person's registrations at a conference, passes among them.
CREATE INDEX registrations_conference_email ON registrations (conference_id, email);
