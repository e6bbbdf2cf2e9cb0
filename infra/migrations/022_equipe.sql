-- Equipe coordination (art. 6 c.1 lett. c–e; docs/equipe.md): inclusion
-- pacts run by a mixed team of job-centre (CPI, ANPAL's side) and
-- social-services operators (GePI's side). GePI opens a case for a
-- household; both sides add events; each change is told to the other side
-- through the outbox (consegna, tipo EQUIPE).

-- A case. At most one open per household (the partial unique index): a
-- second open is a 409, and two opened at once cannot both commit.
-- risposta is the 201 answer byte for byte (json, not jsonb), replayed for
-- a repeated Idempotency-Key.
CREATE TABLE equipe_caso (
    id                     uuid   PRIMARY KEY,
    nucleo_id              bigint NOT NULL REFERENCES nucleo (id),
    stato                  text   NOT NULL DEFAULT 'APERTO' CHECK (stato IN ('APERTO', 'CHIUSO')),
    motivo                 text   NOT NULL CHECK (length(motivo) BETWEEN 1 AND 2000),
    -- the day of the pact's signature (event SOTTOSCRIZIONE_PATTO), once
    patto_sottoscritto_il  date,
    client_id              text   NOT NULL,
    org                    text   NOT NULL,
    request_id             text   NOT NULL,
    aperto_il              timestamptz NOT NULL,
    chiuso_il              timestamptz,
    aggiornato_il          timestamptz NOT NULL,
    risposta               json   NOT NULL,
    CHECK ((stato = 'CHIUSO') = (chiuso_il IS NOT NULL)),
    CHECK (chiuso_il IS NULL OR chiuso_il >= aperto_il)
);
CREATE UNIQUE INDEX equipe_caso_aperto_idx ON equipe_caso (nucleo_id) WHERE stato = 'APERTO';
-- The listing: one state, oldest first, paged by (aperto_il, id).
CREATE INDEX equipe_caso_lista_idx ON equipe_caso (stato, aperto_il, id);

-- The members the case concerns (of the case's household).
CREATE TABLE equipe_componente (
    caso_id        uuid   NOT NULL REFERENCES equipe_caso (id),
    componente_id  bigint NOT NULL REFERENCES componente (id),
    PRIMARY KEY (caso_id, componente_id)
);

-- The team: operators of both sides, by their platform's code (never a
-- codice fiscale: the function refuses one).
CREATE TABLE equipe_operatore (
    caso_id  uuid NOT NULL REFERENCES equipe_caso (id),
    codice   text NOT NULL CHECK (length(codice) BETWEEN 1 AND 64),
    lato     text NOT NULL CHECK (lato IN ('CPI', 'SERVIZI_SOCIALI')),
    ruolo    text CHECK (length(ruolo) BETWEEN 1 AND 100),
    PRIMARY KEY (caso_id, codice)
);
-- The listing filtered by operator starts from here.
CREATE INDEX equipe_operatore_codice_idx ON equipe_operatore (codice, caso_id);

-- What each side added, in order (seq within the case). risposta is the
-- 201 answer, replayed for a repeated Idempotency-Key.
CREATE TABLE equipe_evento (
    id             uuid    PRIMARY KEY,
    caso_id        uuid    NOT NULL REFERENCES equipe_caso (id),
    seq            integer NOT NULL CHECK (seq > 0),
    tipo           text    NOT NULL CHECK (tipo IN
                       ('AZIONE_CPI', 'INCONTRO', 'ESITO', 'SOTTOSCRIZIONE_PATTO', 'MONITORAGGIO', 'CHIUSURA')),
    lato           text    NOT NULL CHECK (lato IN ('CPI', 'SERVIZI_SOCIALI')),
    data           date    NOT NULL,
    descrizione    text    CHECK (length(descrizione) BETWEEN 1 AND 4000),
    esito          text    CHECK (length(esito) BETWEEN 1 AND 500),
    client_id      text    NOT NULL,
    org            text    NOT NULL,
    request_id     text    NOT NULL,
    registrato_il  timestamptz NOT NULL,
    risposta       json    NOT NULL,
    UNIQUE (caso_id, seq),
    -- the side rules of docs/equipe.md, the ones a row can show
    CHECK (tipo <> 'AZIONE_CPI' OR lato = 'CPI'),
    CHECK (tipo NOT IN ('SOTTOSCRIZIONE_PATTO', 'MONITORAGGIO', 'CHIUSURA') OR lato = 'SERVIZI_SOCIALI')
);

-- The outbox takes the Equipe's notifications. The kinds' check is
-- rebuilt whole, with every kind shared/outbox knows (the conditionality
-- events' too), whatever an earlier version named it.
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
    CHECK (tipo IN ('TRASFERIMENTO', 'RIFIUTO_OFFERTA', 'REPORT_APL', 'EQUIPE', 'CONDIZIONALITA'));

---- create above / drop below ----
DELETE FROM consegna WHERE tipo = 'EQUIPE';
ALTER TABLE consegna DROP CONSTRAINT consegna_tipo_check;
ALTER TABLE consegna ADD CONSTRAINT consegna_tipo_check
    CHECK (tipo IN ('TRASFERIMENTO', 'RIFIUTO_OFFERTA', 'REPORT_APL', 'CONDIZIONALITA'));
DROP TABLE equipe_evento;
DROP TABLE equipe_operatore;
DROP TABLE equipe_componente;
DROP TABLE equipe_caso;
