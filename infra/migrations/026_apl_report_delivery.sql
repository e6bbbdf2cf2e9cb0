-- The daily report goes to each enabled super user of the agency
-- (docs/contract.md#apl-daily-report): by webhook (kind REPORT_APL, as the
-- agency's own apl.webhook_url) and by e-mail with the workbook attached
-- (kind REPORT_APL_EMAIL, sent over SMTP by the function's outbox worker),
-- at the addresses of 023_apl_users (oauth_client.report_webhook_url, .email).
-- The kinds' check is rebuilt whole, with every kind shared/outbox knows,
-- whatever an earlier version named it (as 020 and 022 do).
DO $$
DECLARE c record;
BEGIN
    FOR c IN SELECT conname FROM pg_constraint
             WHERE conrelid = 'consegna'::regclass AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%tipo%'
    LOOP
        EXECUTE format('ALTER TABLE consegna DROP CONSTRAINT %I', c.conname);
    END LOOP;
END $$;
ALTER TABLE consegna ADD CONSTRAINT consegna_tipo_check
    CHECK (tipo IN ('TRASFERIMENTO', 'RIFIUTO_OFFERTA', 'REPORT_APL', 'EQUIPE', 'CONDIZIONALITA', 'REPORT_APL_EMAIL'));

---- create above / drop below ----
DELETE FROM consegna WHERE tipo = 'REPORT_APL_EMAIL';
ALTER TABLE consegna DROP CONSTRAINT consegna_tipo_check;
ALTER TABLE consegna ADD CONSTRAINT consegna_tipo_check
    CHECK (tipo IN ('TRASFERIMENTO', 'RIFIUTO_OFFERTA', 'REPORT_APL', 'EQUIPE', 'CONDIZIONALITA'));
