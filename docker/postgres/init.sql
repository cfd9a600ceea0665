-- Runs once when the PostgreSQL volume is created: the double-booking exclusion constraint
-- needs btree_gist, which only a superuser may create.
CREATE EXTENSION IF NOT EXISTS btree_gist;
