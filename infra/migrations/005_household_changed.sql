-- Every household look-up (did-check, patto-check, did-holder-exclusion) is
-- cached, so every table such an answer is read from announces its changes.
-- One channel, rdc_household_changed, replaces 004's rdc_did_changed: the
-- payload is a household id, or "all" for a bulk change, and each look-up
-- drops what it holds for that household. A DID change also drops the
-- household's patto-check answers: rare enough to cost nothing.

DROP TRIGGER componente_deleted ON componente;
DROP TRIGGER componente_updated ON componente;
DROP TRIGGER componente_inserted ON componente;
DROP TRIGGER did_deleted ON did;
DROP TRIGGER did_updated ON did;
DROP TRIGGER did_inserted ON did;
DROP FUNCTION notify_member_rows();
DROP FUNCTION notify_did_rows();

-- Rows that name a member (componente_id): did, sap_politica, patto_inclusione_componente.
CREATE FUNCTION notify_by_member() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(*) FROM (SELECT 1 FROM changed LIMIT 101) s) > 100 THEN
        PERFORM pg_notify('rdc_household_changed', 'all');
    ELSE
        PERFORM pg_notify('rdc_household_changed', n::text)
        FROM (SELECT DISTINCT m.nucleo_id AS n FROM changed d JOIN componente m ON m.id = d.componente_id) s;
    END IF;
    RETURN NULL;
END $$;

-- Rows that name a household (nucleo_id): patto_inclusione, and componente
-- on insert. An update or delete of a member may move a code from one
-- household to another: everything is dropped.
CREATE FUNCTION notify_by_household() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'componente' AND TG_OP <> 'INSERT' THEN
        IF EXISTS (SELECT 1 FROM changed) THEN
            PERFORM pg_notify('rdc_household_changed', 'all');
        END IF;
    ELSIF (SELECT count(*) FROM (SELECT 1 FROM changed LIMIT 101) s) > 100 THEN
        PERFORM pg_notify('rdc_household_changed', 'all');
    ELSE
        PERFORM pg_notify('rdc_household_changed', n::text) FROM (SELECT DISTINCT nucleo_id AS n FROM changed) s;
    END IF;
    RETURN NULL;
END $$;

-- Code tables: their meaning changed for everyone.
CREATE FUNCTION notify_all() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('rdc_household_changed', 'all');
    RETURN NULL;
END $$;

CREATE TRIGGER did_inserted AFTER INSERT ON did REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION notify_by_member();
CREATE TRIGGER did_updated AFTER UPDATE ON did REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION notify_by_member();
CREATE TRIGGER did_deleted AFTER DELETE ON did REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION notify_by_member();
CREATE TRIGGER sap_politica_inserted AFTER INSERT ON sap_politica REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION notify_by_member();
CREATE TRIGGER sap_politica_updated AFTER UPDATE ON sap_politica REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION notify_by_member();
CREATE TRIGGER sap_politica_deleted AFTER DELETE ON sap_politica REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION notify_by_member();
CREATE TRIGGER pic_inserted AFTER INSERT ON patto_inclusione_componente REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION notify_by_member();
CREATE TRIGGER pic_deleted AFTER DELETE ON patto_inclusione_componente REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION notify_by_member();
CREATE TRIGGER pic_updated AFTER UPDATE ON patto_inclusione_componente
    FOR EACH STATEMENT EXECUTE FUNCTION notify_all();
CREATE TRIGGER patto_inclusione_inserted AFTER INSERT ON patto_inclusione REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION notify_by_household();
CREATE TRIGGER patto_inclusione_updated AFTER UPDATE ON patto_inclusione REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION notify_by_household();
CREATE TRIGGER patto_inclusione_deleted AFTER DELETE ON patto_inclusione REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION notify_by_household();
CREATE TRIGGER componente_inserted AFTER INSERT ON componente REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION notify_by_household();
CREATE TRIGGER componente_updated AFTER UPDATE ON componente REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION notify_by_household();
CREATE TRIGGER componente_deleted AFTER DELETE ON componente REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION notify_by_household();
CREATE TRIGGER sap_evento_changed AFTER INSERT OR UPDATE OR DELETE ON sap_evento
    FOR EACH STATEMENT EXECUTE FUNCTION notify_all();
CREATE TRIGGER stato_did_changed AFTER INSERT OR UPDATE OR DELETE ON stato_did
    FOR EACH STATEMENT EXECUTE FUNCTION notify_all();

---- create above / drop below ----
DROP TRIGGER stato_did_changed ON stato_did;
DROP TRIGGER sap_evento_changed ON sap_evento;
DROP TRIGGER componente_deleted ON componente;
DROP TRIGGER componente_updated ON componente;
DROP TRIGGER componente_inserted ON componente;
DROP TRIGGER patto_inclusione_deleted ON patto_inclusione;
DROP TRIGGER patto_inclusione_updated ON patto_inclusione;
DROP TRIGGER patto_inclusione_inserted ON patto_inclusione;
DROP TRIGGER pic_updated ON patto_inclusione_componente;
DROP TRIGGER pic_deleted ON patto_inclusione_componente;
DROP TRIGGER pic_inserted ON patto_inclusione_componente;
DROP TRIGGER sap_politica_deleted ON sap_politica;
DROP TRIGGER sap_politica_updated ON sap_politica;
DROP TRIGGER sap_politica_inserted ON sap_politica;
DROP TRIGGER did_deleted ON did;
DROP TRIGGER did_updated ON did;
DROP TRIGGER did_inserted ON did;
DROP FUNCTION notify_all();
DROP FUNCTION notify_by_household();
DROP FUNCTION notify_by_member();
