-- Quiet hours are minutes of the day, 00:00..23:59. Postgres' `time` also
-- takes '24:00', which the quiet-hours policy cannot answer (minute 1440):
-- the gate would defer such a tenant's notifications forever. '24:00' is the
-- same instant as the next day's '00:00', so rows written before this
-- migration keep their meaning.
UPDATE comms_quiet_hours SET starts_at = '00:00' WHERE starts_at = '24:00';
UPDATE comms_quiet_hours SET ends_at = '00:00' WHERE ends_at = '24:00';

ALTER TABLE comms_quiet_hours
  ADD CONSTRAINT comms_quiet_hours_starts_at_in_day CHECK (starts_at < '24:00'),
  ADD CONSTRAINT comms_quiet_hours_ends_at_in_day CHECK (ends_at < '24:00');
