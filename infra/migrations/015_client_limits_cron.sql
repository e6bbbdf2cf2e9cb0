-- What every call of a client is checked against, and the claim of a
-- scheduled run (issue 11).
--
-- rate_limits: per function name (or "*" for every function) a limit
-- "<n>/<s|m|h>[:<burst>]", or "off"; a function not named gets the
-- configured default (RATE_LIMIT_CLIENT).
ALTER TABLE oauth_client ADD COLUMN rate_limits jsonb NOT NULL DEFAULT '{}'
    CHECK (jsonb_typeof(rate_limits) = 'object');

-- Every function process caches client registrations (enabled, addresses,
-- limits, enabled branches) and drops them on this channel's notices, so a
-- disabled client or branch stops working at once on every replica. The
-- payload is a client id, or "all" when a branch changes.
CREATE FUNCTION notify_client_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('rdc_client_changed', OLD.client_id);
    ELSE
        PERFORM pg_notify('rdc_client_changed', NEW.client_id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER oauth_client_changed AFTER INSERT OR UPDATE OR DELETE ON oauth_client
    FOR EACH ROW EXECUTE FUNCTION notify_client_changed();

CREATE FUNCTION notify_branch_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('rdc_client_changed', 'all');
    RETURN NULL;
END $$;
CREATE TRIGGER apl_filiale_changed AFTER INSERT OR UPDATE OR DELETE ON apl_filiale
    FOR EACH STATEMENT EXECUTE FUNCTION notify_branch_changed();

-- A scheduled run claims its slot, the latest instant of its schedule: a
-- second trigger of the same slot (a retry, a second replica, anyone sending
-- the cron-connector's header) finds the row and does nothing. A run that
-- fails gives its slot back, so the next trigger tries again.
CREATE TABLE cron_run (
    funzione     text NOT NULL,
    turno        timestamptz NOT NULL,        -- the slot: the schedule's latest instant
    iniziato_il  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (funzione, turno)
);

---- create above / drop below ----
DROP TABLE cron_run;
DROP TRIGGER apl_filiale_changed ON apl_filiale;
DROP FUNCTION notify_branch_changed();
DROP TRIGGER oauth_client_changed ON oauth_client;
DROP FUNCTION notify_client_changed();
ALTER TABLE oauth_client DROP COLUMN rate_limits;
