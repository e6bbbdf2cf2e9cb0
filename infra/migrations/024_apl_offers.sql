-- The agency's offer list (apl-offers GET /, issue 15) pages in id order
-- (UUIDv7, creation order) within one agency: this index gives each page
-- as a short walk from the cursor, without sorting the agency's offers.
-- The branch and state filters are checked on the rows walked (an agency
-- has a few branches; the state as of today is computed, not stored).
CREATE INDEX offerta_apl_idx ON offerta (apl_id, id);

---- create above / drop below ----
DROP INDEX offerta_apl_idx;
