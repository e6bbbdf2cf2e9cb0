-- An agency's interest expressions page by time within the agency (issue
-- 18). The list walked the time index of every agency's interests and kept
-- the agency's own. Each interest now carries its offer's agency, set by
-- the database from the offer, and an index leads with it: at 1,000,000
-- persons the extraction in pages of 1,000 went from 0.08–0.13 to 0.20 of the
-- plain query's rows/s. At 5,000,000 the planner still starts from the
-- agency's offers and sorts their interests for every page (0.00): the
-- branch filter on the offer is what it joins first (issue 18's note).
ALTER TABLE manifestazione_interesse ADD COLUMN apl_id text;
UPDATE manifestazione_interesse mi SET apl_id = o.apl_id FROM offerta o WHERE o.id = mi.offerta_id;
ALTER TABLE manifestazione_interesse ALTER COLUMN apl_id SET NOT NULL;

-- Whoever writes an interest (the SIISL feed, the loaders) names the
-- offer only: the agency is the offer's, never the writer's say.
CREATE FUNCTION manifestazione_apl() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT o.apl_id INTO NEW.apl_id FROM offerta o WHERE o.id = NEW.offerta_id;
    RETURN NEW;
END $$;
CREATE TRIGGER manifestazione_apl BEFORE INSERT OR UPDATE OF offerta_id, apl_id ON manifestazione_interesse
    FOR EACH ROW EXECUTE FUNCTION manifestazione_apl();

-- An offer never changes agency: the copy above stays true.
CREATE FUNCTION offerta_apl_fissa() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'an offer cannot move to another agency' USING ERRCODE = 'check_violation';
END $$;
CREATE TRIGGER offerta_apl_fissa BEFORE UPDATE OF apl_id ON offerta
    FOR EACH ROW WHEN (OLD.apl_id IS DISTINCT FROM NEW.apl_id) EXECUTE FUNCTION offerta_apl_fissa();

CREATE INDEX manifestazione_apl_creata_idx ON manifestazione_interesse (apl_id, creata_il, id);

---- create above / drop below ----
DROP INDEX manifestazione_apl_creata_idx;
DROP TRIGGER offerta_apl_fissa ON offerta;
DROP FUNCTION offerta_apl_fissa();
DROP TRIGGER manifestazione_apl ON manifestazione_interesse;
DROP FUNCTION manifestazione_apl();
ALTER TABLE manifestazione_interesse DROP COLUMN apl_id;
