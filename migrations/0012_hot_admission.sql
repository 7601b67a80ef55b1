-- Admission at the door as a HOT update. `registrations_inside` (0007) named `inside` in its
-- predicate, so every admission and exit (`UPDATE … SET inside = …`) was a non-HOT update that
-- added an entry to each of the table's nine indexes, the three pg_trgm GIN indexes of 0009
-- among them. Without it, and with room left on each page (fillfactor 90; pages written from
-- now on), an admission rewrites the row in place and touches no index. The dashboard's
-- "inside" counts read the conference's registrations instead (they already scan them for
-- the per-category numbers).
DROP INDEX registrations_inside;
ALTER TABLE registrations SET (fillfactor = 90);
