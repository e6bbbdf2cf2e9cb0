-- The agencies' daily reports (docs/domain.md#employment-agencies-on-siisl): one per agency and day, whichever
-- replica or trigger makes it. The row is the claim: a run inserts it
-- IN_CORSO, builds the files, and marks it PRONTO; a FALLITO report, or
-- one left IN_CORSO by a replica that stopped, is taken again by the next run.
CREATE TABLE report_apl (
    apl_id         text NOT NULL REFERENCES apl (id),
    giorno         date NOT NULL,                -- the day reported, Europe/Rome
    id             uuid NOT NULL UNIQUE,         -- this attempt; the webhook's Idempotency-Key
    stato          text NOT NULL CHECK (stato IN ('IN_CORSO', 'PRONTO', 'FALLITO')),
    riepilogo      jsonb,                        -- the summary figures
    oggetto        text,                         -- the workbook in MinIO; the JSON twin is beside it
    byte           bigint,
    sha256         text,
    errore         text,                         -- why it failed: no personal data
    creato_il      timestamptz NOT NULL DEFAULT now(),
    aggiornato_il  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (apl_id, giorno)
);

---- create above / drop below ----
DROP TABLE report_apl;
