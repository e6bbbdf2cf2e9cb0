-- What agencies search and note about the citizens who chose them (docs/domain.md#employment-agencies-on-siisl).

-- A citizen's CV / profile on SIISL, searched in Italian full text (the
-- Italian stemmer: "muratori" finds "muratore").
CREATE TABLE profilo (
    componente_id  bigint PRIMARY KEY REFERENCES componente (id),
    testo          text NOT NULL,
    tsv            tsvector GENERATED ALWAYS AS (to_tsvector('italian', testo)) STORED,
    aggiornato_il  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX profilo_tsv_idx ON profilo USING gin (tsv);

-- An agency's note of an interview with a citizen: kept for that agency
-- alone and never passed on (unlike a refusal of an offer).
CREATE TABLE annotazione_apl (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    apl_id         text NOT NULL REFERENCES apl (id),
    componente_id  bigint NOT NULL REFERENCES componente (id),
    testo          text NOT NULL,
    esito          text NOT NULL CHECK (esito IN ('POSITIVO', 'NEGATIVO', 'DA_RICONTATTARE', 'NON_PRESENTATO')),
    client_id      text NOT NULL,
    creata_il      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX annotazione_apl_idx ON annotazione_apl (apl_id, componente_id, creata_il);

---- create above / drop below ----
DROP TABLE annotazione_apl;
DROP TABLE profilo;
