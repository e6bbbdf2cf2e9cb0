-- The INPS household record: an RdC application (domanda) and its members, with
-- the data of art. 3 c.1 lett. a) that the exchanges hand over (numbers in comments).

-- Reference: the comuni the synthetic and real data point at, with the province
-- and region needed to release data by territory (art. 7) and to generalise places.
CREATE TABLE comune (
    codice_istat  char(6) PRIMARY KEY,
    belfiore      char(4) NOT NULL UNIQUE,
    nome          text    NOT NULL,
    provincia     char(2) NOT NULL,          -- sigla, e.g. RM
    regione       char(2) NOT NULL           -- ISTAT region code, e.g. 12 (Lazio)
);

CREATE TABLE nucleo (
    id                      bigint PRIMARY KEY,
    protocollo_domanda      text   NOT NULL UNIQUE,   -- INPS application id
    -- n. 9: state and dates of the application
    stato_domanda           text   NOT NULL CHECK (stato_domanda IN
                                ('ACCOLTA', 'IN_ISTRUTTORIA', 'SOSPESA', 'DECADUTA', 'TERMINATA')),
    data_presentazione      date   NOT NULL,
    data_decorrenza         date,
    -- n. 2: economic and asset condition from the valid DSU
    isee                    numeric(12,2) NOT NULL CHECK (isee >= 0),
    reddito_familiare       numeric(12,2) NOT NULL CHECK (reddito_familiare >= 0),
    patrimonio_mobiliare    numeric(12,2) NOT NULL CHECK (patrimonio_mobiliare >= 0),
    patrimonio_immobiliare  numeric(12,2) NOT NULL CHECK (patrimonio_immobiliare >= 0),
    data_dsu                date   NOT NULL,
    -- n. 3: monthly amount of the benefit
    importo_beneficio       numeric(10,2) NOT NULL CHECK (importo_beneficio >= 0),
    -- residence of the household: the territory of the Comune and the Region
    comune_residenza        char(6) NOT NULL REFERENCES comune (codice_istat),
    indirizzo               text   NOT NULL,
    cap                     char(5) NOT NULL,
    -- which service follows the household now; transfers move it and keep the history
    servizio_competente     text   NOT NULL DEFAULT 'NESSUNO'
                                CHECK (servizio_competente IN ('NESSUNO', 'CPI', 'SERVIZI_SOCIALI')),
    aggiornato_il           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX nucleo_comune_idx ON nucleo (comune_residenza);

CREATE TABLE componente (
    id                   bigint PRIMARY KEY,
    nucleo_id            bigint NOT NULL REFERENCES nucleo (id),
    -- the code as issued (possibly omocodic) and its canonical form, the look-up key:
    -- every omocodic variant of a code finds the same person.
    codice_fiscale       text   NOT NULL,
    cf_canonico          text   NOT NULL,
    -- n. 1: personal data
    cognome              text   NOT NULL,
    nome                 text   NOT NULL,
    sesso                char(1) NOT NULL CHECK (sesso IN ('M', 'F')),
    data_nascita         date   NOT NULL,
    comune_nascita       char(4) NOT NULL,            -- Belfiore code (Z... abroad)
    cittadinanza         char(3) NOT NULL,            -- ISO 3166 alpha-3
    telefono             text,
    email                text,
    richiedente          boolean NOT NULL DEFAULT false,
    titolo_studio        smallint NOT NULL DEFAULT 0, -- 0 none .. 7 doctorate (ISCED-like)
    -- n. 5: counted in the equivalence scale (false: not a beneficiary)
    in_scala_equivalenza boolean NOT NULL DEFAULT true,
    -- n. 6: bound by the obligations (art. 4 c.2)
    obbligato            boolean NOT NULL DEFAULT false,
    -- n. 7: to be called in by the CPI; n. 8: by the Comuni's social services
    da_convocare_cpi     boolean NOT NULL DEFAULT false,
    da_convocare_comune  boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX componente_cf_canonico_idx ON componente (cf_canonico);
CREATE INDEX componente_nucleo_idx ON componente (nucleo_id);

---- create above / drop below ----
DROP TABLE componente;
DROP TABLE nucleo;
DROP TABLE comune;
