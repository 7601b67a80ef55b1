-- Data protection: when a registration was made anonymous after its conference.
ALTER TABLE registrations ADD COLUMN anonymised_at timestamptz;
CREATE INDEX conferences_ends_idx ON conferences (ends_at);
