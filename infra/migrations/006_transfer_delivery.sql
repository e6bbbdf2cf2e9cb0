-- What transfers need beyond 003: the answer given (replayed for a repeated
-- Idempotency-Key and sent to the receiving platform), the idempotency keys,
-- and the outbox of notifications to the partner platforms.

-- The answer exactly as the caller got it, byte for byte (json, not jsonb,
-- which would reorder it): a replay must be identical. No transfer was
-- written before this version (no function wrote the table), so it can be required.
ALTER TABLE trasferimento ADD COLUMN risposta json NOT NULL;

-- Idempotency-Key of a POST that creates something, per client and function.
-- The row is written in the transaction that creates the resource: a request
-- that fails leaves no key behind, and a concurrent duplicate waits on the
-- row's lock, then finds the resource. Kept at least 24 h (contract), purged after 48 h.
CREATE TABLE idempotenza (
    client_id   text  NOT NULL,
    funzione    text  NOT NULL,
    chiave      text  NOT NULL,
    impronta    bytea NOT NULL,         -- SHA-256 of the request body
    risorsa     text,                   -- what the first request created
    creato_il   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, funzione, chiave)
);
CREATE INDEX idempotenza_creato_idx ON idempotenza USING brin (creato_il);

-- Outbox: one notification per event and partner, written in the event's
-- transaction (a transfer, an offer's refusal), delivered at least once by
-- the worker of the function that wrote it. corpo is what is POSTed, fixed
-- when the event happens; id is the Idempotency-Key the partner sees, so it
-- drops the repeats at-least-once delivery allows.
-- IN_ATTESA rows are due at prossimo_tentativo; a worker claims a row by
-- pushing prossimo_tentativo past its own deadline (a lease), so a worker
-- that dies mid-delivery leaves the row to be retried, not lost.
-- SCARTATA is the dead-letter state, for operators to see and re-queue.
CREATE TABLE consegna (
    id                  uuid NOT NULL,             -- the transfer's or the refusal's id
    destinatario        text NOT NULL,             -- ANPAL, GEPI, INPS, or APL:<id> for an agency's webhook
    tipo                text NOT NULL CHECK (tipo IN ('TRASFERIMENTO', 'RIFIUTO_OFFERTA', 'REPORT_APL')),
    corpo               json NOT NULL,
    url                 text,                      -- where to POST, when the row says (an agency's webhook)
    nucleo_id           bigint,                    -- the household whose data leaves, for the audit record
    stato               text NOT NULL DEFAULT 'IN_ATTESA' CHECK (stato IN ('IN_ATTESA', 'CONSEGNATA', 'SCARTATA')),
    tentativi           integer NOT NULL DEFAULT 0,
    prossimo_tentativo  timestamptz NOT NULL DEFAULT now(),
    ultimo_errore       text,                      -- no personal data: a status or a network error class
    consegnata_il       timestamptz,
    creato_il           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, destinatario)
);
CREATE INDEX consegna_dovuta_idx ON consegna (destinatario, tipo, prossimo_tentativo) WHERE stato = 'IN_ATTESA';
CREATE INDEX consegna_tipo_idx ON consegna (tipo, prossimo_tentativo) WHERE stato = 'IN_ATTESA';
CREATE INDEX consegna_scartata_idx ON consegna (destinatario) WHERE stato = 'SCARTATA';

---- create above / drop below ----
DROP TABLE consegna;
DROP TABLE idempotenza;
ALTER TABLE trasferimento DROP COLUMN risposta;
