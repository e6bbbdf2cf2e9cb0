-- The agencies' users and the PAD's branches (issue 15; docs/contract.md#apl-users).
--
-- A master creates super users, a super creates operators for chosen
-- branches (apl-users): each is an oauth_client of the agency. creato_da is
-- the client that created it, for the trail and for listing; email and
-- report_webhook_url are where a super user's daily report is delivered
-- (apl-daily-report reads exactly these two columns). The function
-- validates both strictly; the CHECKs keep any other writer from storing
-- what no delivery could use.
ALTER TABLE oauth_client
    ADD COLUMN creato_da text,
    ADD COLUMN disabilitato_il timestamptz,
    ADD COLUMN email text
        CONSTRAINT oauth_client_email_check
        CHECK (email IS NULL OR (length(email) <= 254 AND email ~ '^[^@[:space:][:cntrl:]]+@[^@[:space:][:cntrl:]]+\.[^@[:space:][:cntrl:]]+$')),
    ADD COLUMN report_webhook_url text
        CONSTRAINT oauth_client_report_webhook_url_check
        CHECK (report_webhook_url IS NULL OR (length(report_webhook_url) <= 2048
            AND report_webhook_url !~ '[[:space:][:cntrl:]]'
            AND (report_webhook_url ~ '^https://[^/?#@]+'
                 OR report_webhook_url ~ '^http://(localhost|127\.[0-9]+\.[0-9]+\.[0-9]+|\[::1\])(:[0-9]+)?([/?#]|$)')));

-- Only an agency's master or super has a report to receive.
ALTER TABLE oauth_client ADD CONSTRAINT oauth_client_report_delivery_role
    CHECK ((email IS NULL AND report_webhook_url IS NULL) OR apl_ruolo IN ('master', 'super'));

-- apl-users lists an agency's users by org and role.
CREATE INDEX oauth_client_org_ruolo_idx ON oauth_client (org, apl_ruolo);

-- Whether citizens may pick the branch in the Patto di attivazione digitale:
-- the agency's super chooses (apl-users /filiali-pad); feed-siisl refuses
-- a PAD's new choice of a branch that is not.
ALTER TABLE apl_filiale ADD COLUMN selezionabile_pad boolean NOT NULL DEFAULT true;

---- create above / drop below ----
ALTER TABLE apl_filiale DROP COLUMN selezionabile_pad;
DROP INDEX oauth_client_org_ruolo_idx;
ALTER TABLE oauth_client DROP CONSTRAINT oauth_client_report_delivery_role;
ALTER TABLE oauth_client DROP COLUMN report_webhook_url, DROP COLUMN email, DROP COLUMN disabilitato_il, DROP COLUMN creato_da;
