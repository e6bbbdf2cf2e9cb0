-- The data controller's two questions of the audit trail (audit-controller,
-- infra/cmd/audit-query), each answered by one index range scan in the
-- order the pages are read, newest first, with the keyset cursor (at, id):
--
--   who accessed this person:   WHERE subject_ref = $1 [AND at >= $2 AND at < $3]
--                               [AND (at, id) < ($4, $5)] ORDER BY at DESC, id DESC LIMIT n
--   what this client did:       WHERE client_id = $1 ... the same
--
-- The subject index replaces 003's audit_log_subject_idx on (subject_ref)
-- alone, whose every match had to be fetched and sorted before the first
-- row came out: with (at, id) after it, a range of days and a cursor are
-- bounds of the scan, and the scan stops after the page. It stays partial,
-- as 003's was: the records of no person (lists, scheduled runs, reports)
-- are not in it. The BRIN on at stays, for reading the trail by time
-- alone (a few pages per 128 blocks, nothing per row worth counting).
--
-- Each index costs every audit insert; these two are the only ones the
-- questions need: the subject one takes the place of 003's, the client one
-- is the one index added.
DROP INDEX audit_log_subject_idx;
CREATE INDEX audit_log_subject_at_idx ON audit_log (subject_ref, at, id) WHERE subject_ref IS NOT NULL;
CREATE INDEX audit_log_client_at_idx ON audit_log (client_id, at, id);

---- create above / drop below ----
DROP INDEX audit_log_client_at_idx;
DROP INDEX audit_log_subject_at_idx;
CREATE INDEX audit_log_subject_idx ON audit_log (subject_ref) WHERE subject_ref IS NOT NULL;
