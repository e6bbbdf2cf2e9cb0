-- Employment agencies (APL) on SIISL (docs/domain.md#employment-agencies-on-siisl): agencies and their
-- branches, the offers they publish and the interest beneficiaries express.

CREATE TABLE apl (
    id             text PRIMARY KEY,            -- the id in org APL:<id>
    denominazione  text NOT NULL,
    webhook_url    text                         -- told of each daily report, when set
);

-- A branch (filiale). A client acts for the enabled branches listed in its
-- oauth_client.filiali; a disabled branch takes no new offers.
CREATE TABLE apl_filiale (
    codice         text PRIMARY KEY,
    apl_id         text NOT NULL REFERENCES apl (id),
    denominazione  text NOT NULL,
    comune         char(6) REFERENCES comune (codice_istat),
    abilitata      boolean NOT NULL DEFAULT true
);
CREATE INDEX apl_filiale_apl_idx ON apl_filiale (apl_id);

-- Education levels, ordered: an offer's minimum and a citizen's level compare by livello.
CREATE TABLE titolo_studio (
    codice       text PRIMARY KEY,
    livello      smallint NOT NULL UNIQUE,
    descrizione  text NOT NULL
);
INSERT INTO titolo_studio (codice, livello, descrizione) VALUES
    ('NESSUNO', 0, 'nessun titolo'),
    ('LICENZA_ELEMENTARE', 1, 'licenza elementare'),
    ('LICENZA_MEDIA', 2, 'licenza media'),
    ('QUALIFICA_PROFESSIONALE', 3, 'qualifica professionale'),
    ('DIPLOMA', 4, 'diploma di scuola secondaria superiore'),
    ('LAUREA', 5, 'laurea triennale'),
    ('LAUREA_MAGISTRALE', 6, 'laurea magistrale o a ciclo unico'),
    ('DOTTORATO', 7, 'dottorato di ricerca');

-- An offer. riferimento_apl is the agency's own reference: sending an offer
-- again never duplicates it. SCADUTA is never stored: a published offer
-- past its end of publication reads as SCADUTA (see the function), so no
-- job has to run at midnight for it to be true.
CREATE TABLE offerta (
    id                       uuid PRIMARY KEY,
    apl_id                   text NOT NULL REFERENCES apl (id),
    riferimento_apl          text NOT NULL,
    filiale                  text NOT NULL REFERENCES apl_filiale (codice),
    titolo                   text NOT NULL,
    descrizione              text NOT NULL,
    comune                   char(6) NOT NULL REFERENCES comune (codice_istat),
    qualifica                text,
    tipo_contratto           text,
    numero_posti             integer NOT NULL CHECK (numero_posti > 0),
    titolo_studio_minimo     text REFERENCES titolo_studio (codice),
    stato                    text NOT NULL CHECK (stato IN ('BOZZA', 'PUBBLICATA', 'SOSPESA', 'CHIUSA')),
    data_pubblicazione       date,
    data_fine_pubblicazione  date,
    creato_il                timestamptz NOT NULL DEFAULT now(),
    aggiornato_il            timestamptz NOT NULL DEFAULT now(),
    UNIQUE (apl_id, riferimento_apl),
    CHECK (data_fine_pubblicazione >= data_pubblicazione),
    CHECK (stato <> 'PUBBLICATA' OR data_pubblicazione IS NOT NULL)
);
CREATE INDEX offerta_filiale_idx ON offerta (filiale, stato);

-- A beneficiary's interest in an offer.
CREATE TABLE manifestazione_interesse (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    offerta_id     uuid NOT NULL REFERENCES offerta (id),
    componente_id  bigint NOT NULL REFERENCES componente (id),
    creata_il      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (offerta_id, componente_id)
);
CREATE INDEX manifestazione_offerta_idx ON manifestazione_interesse (offerta_id, creata_il, id);
-- An agency's list across its offers pages by time.
CREATE INDEX manifestazione_creata_idx ON manifestazione_interesse (creata_il, id);

-- The agencies a citizen chose in the Patto di attivazione digitale (PAD,
-- at least three), each with the branch picked: the citizens an agency may
-- search and contact.
CREATE TABLE scelta_apl (
    componente_id  bigint NOT NULL REFERENCES componente (id),
    apl_id         text NOT NULL REFERENCES apl (id),
    filiale        text NOT NULL REFERENCES apl_filiale (codice),
    scelta_il      timestamptz NOT NULL,
    PRIMARY KEY (componente_id, apl_id)
);
CREATE INDEX scelta_apl_filiale_idx ON scelta_apl (apl_id, filiale, scelta_il);

-- A candidate's refusal of an offer (Comunicazione rifiuto dell'offerta).
-- Unlike an interview note it matters for the benefit's conditions, so it is
-- passed on to INPS and ANPAL through the outbox (consegna). One per
-- candidate and offer.
CREATE TABLE rifiuto_offerta (
    id             uuid PRIMARY KEY,
    offerta_id     uuid NOT NULL REFERENCES offerta (id),
    componente_id  bigint NOT NULL REFERENCES componente (id),
    data           date NOT NULL,
    motivo         text NOT NULL,
    client_id      text NOT NULL,
    risposta       json NOT NULL,              -- the answer given, replayed for a repeated Idempotency-Key
    creato_il      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (offerta_id, componente_id)
);

---- create above / drop below ----
DROP TABLE rifiuto_offerta;
DROP TABLE scelta_apl;
DROP TABLE manifestazione_interesse;
DROP TABLE offerta;
DROP TABLE titolo_studio;
DROP TABLE apl_filiale;
DROP TABLE apl;
