-- The operator behind a call (AgID ModI AUDIT_REST_02 tracking evidence):
-- kept with every audit record, so that "which operator read this person"
-- can be answered (seed 003). NULL when the call named no operator.
ALTER TABLE audit_log
    ADD COLUMN operatore_id    text,
    ADD COLUMN operatore_ruolo text,
    ADD COLUMN operatore_sede  text,
    ADD COLUMN operatore_loa   text;

-- A client whose every call must name its operator.
ALTER TABLE oauth_client ADD COLUMN tracking_obbligatorio boolean NOT NULL DEFAULT false;

---- create above / drop below ----
ALTER TABLE oauth_client DROP COLUMN tracking_obbligatorio;
ALTER TABLE audit_log DROP COLUMN operatore_id, DROP COLUMN operatore_ruolo,
    DROP COLUMN operatore_sede, DROP COLUMN operatore_loa;
