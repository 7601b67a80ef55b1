-- Data protection. An organisation's stand request keeps the version of the privacy notice
-- it was shown (an attendee's registration keeps its versions in consents); a booking whose
-- contact data were made anonymous (after the retention period, or on request) says when.
ALTER TABLE exhibitor_bookings
    ADD COLUMN privacy_notice_version text,
    ADD COLUMN anonymised_at timestamptz;
