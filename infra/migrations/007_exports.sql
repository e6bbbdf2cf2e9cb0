-- Anonymised exports for MLPS and the Regions (art. 7 c.1-2).

-- Per-recipient parameters. A recipient without a row gets the defaults.
-- versione_chiave rotates its pseudonyms: the key of a recipient is derived
-- from the export-pseudonym-key secret, its org and this version, so bumping
-- it starts a series no earlier file can be linked to.
CREATE TABLE export_destinatario (
    org                   text    PRIMARY KEY,            -- MLPS or REGIONE:<code>
    k                     integer NOT NULL DEFAULT 5 CHECK (k >= 3),
    versione_chiave       integer NOT NULL DEFAULT 1 CHECK (versione_chiave >= 1),
    giorni_conservazione  integer NOT NULL DEFAULT 7 CHECK (giorni_conservazione >= 1)
);

-- One export: a job, then a file in MinIO, downloaded once.
CREATE TABLE export (
    id                   uuid PRIMARY KEY,
    org                  text NOT NULL,                    -- the recipient; its territory follows from it
    client_id            text NOT NULL,                    -- who asked ('-' for the scheduled run)
    tipo                 text NOT NULL CHECK (tipo IN ('microdati', 'aggregati')),
    da                   date NOT NULL,
    a                    date NOT NULL,
    stato                text NOT NULL CHECK (stato IN ('IN_CODA', 'IN_CORSO', 'PRONTO', 'SCARICATO', 'FALLITO', 'SCADUTO')),
    k                    integer,
    formato              text NOT NULL DEFAULT 'csv.gz',
    progresso            bigint NOT NULL DEFAULT 0,        -- rows written so far; once ready, the people read
    righe                bigint,                           -- rows (microdata) or cells (aggregates) released
    righe_generalizzate  bigint,
    righe_soppresse      bigint,
    oggetto              text,                             -- object name in the exports bucket
    byte                 bigint,
    sha256               text,
    manifest             jsonb,
    errore               text,                             -- why it failed: no personal data
    creato_il            timestamptz NOT NULL DEFAULT now(),
    aggiornato_il        timestamptz NOT NULL DEFAULT now(), -- a running job's heartbeat
    completato_il        timestamptz,
    scade_il             timestamptz,
    scaricato_il         timestamptz,
    ricevuta             text,                             -- JWS over the receipt
    CHECK (a >= da)
);
-- One job per recipient, kind and period at a time, whichever replica runs it.
CREATE UNIQUE INDEX export_attivo_idx ON export (org, tipo, da, a) WHERE stato IN ('IN_CODA', 'IN_CORSO');
CREATE INDEX export_org_idx ON export (org, creato_il DESC);
CREATE INDEX export_scadenza_idx ON export (scade_il) WHERE stato = 'PRONTO';

---- create above / drop below ----
DROP TABLE export;
DROP TABLE export_destinatario;
