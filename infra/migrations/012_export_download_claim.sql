-- An export is downloaded once (issue 11). The ready state was only checked,
-- so parallel downloads each got the file. A download now claims the row
-- first: a conditional UPDATE sets the claim and its lease, and only a ready
-- export with no live claim can be claimed, whichever replica serves it.
-- The one download holding the claim renews the lease while bytes flow,
-- releases it when interrupted, and turns the export SCARICATO only while
-- the claim is still its own. A replica that dies mid-download leaves a
-- lease that runs out, so the export is not stuck.
--
-- The export stays PRONTO meanwhile: its file is there until a download
-- completes, and the recipient's listing keeps its states.
ALTER TABLE export
    ADD COLUMN scaricamento_id       uuid,         -- the download that holds the claim
    ADD COLUMN scaricamento_scade_il timestamptz,  -- when its lease runs out unless renewed
    ADD CONSTRAINT export_scaricamento_check CHECK ((scaricamento_id IS NULL) = (scaricamento_scade_il IS NULL));

-- A quota of the exports a recipient asked for that are queued or running at
-- once (each one holds hundreds of MiB of PostgreSQL's memory while it runs,
-- and the replicas' few job slots). Over it a request is 429. The monthly
-- scheduled exports are the service's own and do not count.
ALTER TABLE export_destinatario
    ADD COLUMN max_attivi integer NOT NULL DEFAULT 3 CHECK (max_attivi >= 1);

---- create above / drop below ----
ALTER TABLE export_destinatario DROP COLUMN max_attivi;
ALTER TABLE export
    DROP CONSTRAINT export_scaricamento_check,
    DROP COLUMN scaricamento_scade_il,
    DROP COLUMN scaricamento_id;
