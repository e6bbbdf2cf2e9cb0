-- Tell look-up caches (did-check) when a household's DID data or members
-- change, so they drop what they hold for it. NOTIFY is delivered at commit.
-- Statement-level triggers with transition tables: a bulk change (a nightly
-- feed, a data load) sends one "all" instead of a notice per row.

CREATE FUNCTION notify_did_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(*) FROM (SELECT 1 FROM changed LIMIT 101) s) > 100 THEN
        PERFORM pg_notify('rdc_did_changed', 'all');
    ELSE
        PERFORM pg_notify('rdc_did_changed', n::text)
        FROM (SELECT DISTINCT m.nucleo_id AS n FROM changed d JOIN componente m ON m.id = d.componente_id) s;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION notify_member_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        -- A member moved, left or changed code: which code maps to which household changed.
        IF EXISTS (SELECT 1 FROM changed) THEN
            PERFORM pg_notify('rdc_did_changed', 'all');
        END IF;
    ELSIF (SELECT count(*) FROM (SELECT 1 FROM changed LIMIT 101) s) > 100 THEN
        PERFORM pg_notify('rdc_did_changed', 'all');
    ELSE
        PERFORM pg_notify('rdc_did_changed', n::text) FROM (SELECT DISTINCT nucleo_id AS n FROM changed) s;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER did_inserted AFTER INSERT ON did REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION notify_did_rows();
CREATE TRIGGER did_updated AFTER UPDATE ON did REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION notify_did_rows();
CREATE TRIGGER did_deleted AFTER DELETE ON did REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION notify_did_rows();
CREATE TRIGGER componente_inserted AFTER INSERT ON componente REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION notify_member_rows();
CREATE TRIGGER componente_updated AFTER UPDATE ON componente REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION notify_member_rows();
CREATE TRIGGER componente_deleted AFTER DELETE ON componente REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION notify_member_rows();

---- create above / drop below ----
DROP TRIGGER componente_deleted ON componente;
DROP TRIGGER componente_updated ON componente;
DROP TRIGGER componente_inserted ON componente;
DROP TRIGGER did_deleted ON did;
DROP TRIGGER did_updated ON did;
DROP TRIGGER did_inserted ON did;
DROP FUNCTION notify_member_rows();
DROP FUNCTION notify_did_rows();
