-- A bulk change (a feed's chunk of 20,000 records) names its households
-- instead of sending "all": the look-up caches drop only what changed, so
-- answers about the other households stay cached while a file is applied
-- (docs/feeds.md#effects-on-the-look-ups). The payload is a comma-separated
-- list of household ids, at most 380 per notice (8,000 bytes, PostgreSQL's
-- limit, at 21 bytes an id); past 50,000 households in one statement (a
-- data load) a single "all" is cheaper than the lists.

CREATE FUNCTION notify_households(ids bigint[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    list text;
BEGIN
    IF cardinality(ids) > 50000 THEN
        PERFORM pg_notify('rdc_household_changed', 'all');
        RETURN;
    END IF;
    FOR list IN
        SELECT string_agg(id::text, ',') FROM (
            SELECT id, (row_number() OVER (ORDER BY id) - 1) / 380 AS part FROM unnest(ids) AS u (id)) s
        GROUP BY part
    LOOP
        PERFORM pg_notify('rdc_household_changed', list);
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION notify_by_member() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM notify_households(ARRAY(
        SELECT DISTINCT m.nucleo_id FROM changed d JOIN componente m ON m.id = d.componente_id));
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION notify_by_household() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'componente' AND TG_OP <> 'INSERT' THEN
        -- A member who moved, left or changed code: which code maps to
        -- which household changed, and the old code is in no list.
        IF EXISTS (SELECT 1 FROM changed) THEN
            PERFORM pg_notify('rdc_household_changed', 'all');
        END IF;
    ELSE
        PERFORM notify_households(ARRAY(SELECT DISTINCT nucleo_id FROM changed));
    END IF;
    RETURN NULL;
END $$;

---- create above / drop below ----
CREATE OR REPLACE FUNCTION notify_by_member() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(*) FROM (SELECT 1 FROM changed LIMIT 101) s) > 100 THEN
        PERFORM pg_notify('rdc_household_changed', 'all');
    ELSE
        PERFORM pg_notify('rdc_household_changed', n::text)
        FROM (SELECT DISTINCT m.nucleo_id AS n FROM changed d JOIN componente m ON m.id = d.componente_id) s;
    END IF;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION notify_by_household() RETURNS trigger LANGUAGE plpgsql AS $$
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
DROP FUNCTION notify_households(bigint[]);
