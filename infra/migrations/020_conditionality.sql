-- Conditionality events (docs/conditionality.md): the facts that may cost a
-- household its benefit (a missed call-in, a pact not signed, a suitable
-- offer refused, a hiring after one, ...), reported by the side that
-- follows the person and passed on to INPS, which lists and acknowledges them.
--
-- The kinds, and which side may report which, are *assumed* and live in one
-- place, shared/conditionality: tipo is only checked for its shape here, so
-- correcting the list needs no migration.
CREATE TABLE evento_condizionalita (
    id              uuid PRIMARY KEY,           -- also the notification's Idempotency-Key at INPS
    componente_id   bigint NOT NULL REFERENCES componente (id),
    nucleo_id       bigint NOT NULL REFERENCES nucleo (id),  -- the household when the event was reported
    tipo            text NOT NULL CHECK (tipo ~ '^[A-Z][A-Z_]{0,59}$'),
    data_evento     date NOT NULL CHECK (data_evento >= DATE '2019-01-01'),  -- the RdC begins with d.l. 4/2019
    lato            text NOT NULL CHECK (lato IN ('CPI', 'COMUNE', 'APL')),  -- the reporting side
    segnalante      text NOT NULL CHECK (segnalante IN ('ANPAL', 'GEPI') OR segnalante LIKE 'APL:_%'),  -- the token's org
    client_id       text NOT NULL,
    riferimento     text CHECK (riferimento ~ '^[A-Za-z0-9._:/-]{1,100}$'),  -- the reporter's id of it (an offer's id)
    note            text CHECK (char_length(note) BETWEEN 1 AND 2000),
    creato_il       timestamptz NOT NULL DEFAULT now(),
    riscontrato_il  timestamptz,                -- when INPS acknowledged it
    riscontrato_da  text,                       -- INPS's client that did
    -- The answer exactly as the reporter got it, byte for byte (json, not
    -- jsonb, which would reorder it): a replay must be identical.
    risposta        json NOT NULL,
    CHECK ((lato = 'CPI') = (segnalante = 'ANPAL') AND (lato = 'COMUNE') = (segnalante = 'GEPI')),
    CHECK ((riscontrato_il IS NULL) = (riscontrato_da IS NULL)),
    CHECK (riscontrato_il IS NULL OR riscontrato_il >= creato_il),
    -- One fact is reported once: the same reporter, person, kind, day and
    -- reference again is a 409 (a retry carries its Idempotency-Key instead).
    UNIQUE NULLS NOT DISTINCT (componente_id, tipo, data_evento, segnalante, riferimento)
);
-- INPS's list: the events still to acknowledge in the order they came
-- (the default), or all of them, paged by (creato_il, id).
CREATE INDEX evento_condizionalita_da_riscontrare_idx ON evento_condizionalita (creato_il, id) WHERE riscontrato_il IS NULL;
CREATE INDEX evento_condizionalita_creato_idx ON evento_condizionalita (creato_il, id);
CREATE INDEX evento_condizionalita_nucleo_idx ON evento_condizionalita (nucleo_id);

-- The outbox takes the new kind of notification (outbox.Conditionality).
-- Every CHECK on consegna.tipo is replaced by one naming every kind of
-- shared/outbox, whatever an earlier version called its own.
DO $$
DECLARE c name;
BEGIN
    FOR c IN SELECT conname FROM pg_constraint
             WHERE conrelid = 'consegna'::regclass AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%tipo%'
    LOOP
        EXECUTE format('ALTER TABLE consegna DROP CONSTRAINT %I', c);
    END LOOP;
END $$;
ALTER TABLE consegna ADD CONSTRAINT consegna_tipo_check
    CHECK (tipo IN ('TRASFERIMENTO', 'RIFIUTO_OFFERTA', 'REPORT_APL', 'EQUIPE', 'CONDIZIONALITA'));

---- create above / drop below ----
DELETE FROM consegna WHERE tipo = 'CONDIZIONALITA';
ALTER TABLE consegna DROP CONSTRAINT consegna_tipo_check;
ALTER TABLE consegna ADD CONSTRAINT consegna_tipo_check
    CHECK (tipo IN ('TRASFERIMENTO', 'RIFIUTO_OFFERTA', 'REPORT_APL', 'EQUIPE'));
DROP TABLE evento_condizionalita;
