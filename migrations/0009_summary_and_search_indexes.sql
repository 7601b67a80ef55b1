-- The needs summary for planning counts only people who stated needs (about one in ten):
-- a partial index lets it read those rows instead of every registration of the conference.
CREATE INDEX registrations_with_needs ON registrations (conference_id)
    WHERE needs <> '{}'::jsonb;

-- Searching registrations by a part of the name, e-mail address or organisation (staff lists,
-- people without their ticket at the door): trigram indexes serve `ILIKE '%…%'`.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX registrations_name_trgm ON registrations USING gin (name gin_trgm_ops);
CREATE INDEX registrations_email_trgm ON registrations USING gin (email gin_trgm_ops);
CREATE INDEX registrations_organisation_trgm ON registrations USING gin (organisation gin_trgm_ops);
