-- The feeds through which INPS, ANPAL, GePI and SIISL keep their part of the
-- record current (docs/feeds.md).
--
-- Every fed row carries its source's version (fonte_il, fonte_seq: the
-- event's instant and a sequence, monotone per key): a record is applied
-- only when it is newer, so replays and out-of-order delivery are safe.
-- Rows the generator wrote have no version and yield to any record.
-- The source's key is a natural key where the table has one (the INPS
-- protocol of a household, a member's codice fiscale, one PAD or CV per
-- person) and fonte_chiave, the source's own id, elsewhere.

ALTER TABLE nucleo ADD COLUMN fonte_il timestamptz, ADD COLUMN fonte_seq bigint;
-- INPS revokes a benefit too (art. 7 c.5): a state of its own.
ALTER TABLE nucleo DROP CONSTRAINT nucleo_stato_domanda_check;
ALTER TABLE nucleo ADD CONSTRAINT nucleo_stato_domanda_check CHECK (stato_domanda IN
    ('ACCOLTA', 'IN_ISTRUTTORIA', 'SOSPESA', 'REVOCATA', 'DECADUTA', 'TERMINATA'));
ALTER TABLE componente ADD COLUMN fonte_il timestamptz, ADD COLUMN fonte_seq bigint;
ALTER TABLE did ADD COLUMN fonte_chiave text, ADD COLUMN fonte_il timestamptz, ADD COLUMN fonte_seq bigint;
CREATE UNIQUE INDEX did_fonte_idx ON did (fonte_chiave);
ALTER TABLE sap_politica ADD COLUMN fonte_chiave text, ADD COLUMN fonte_il timestamptz, ADD COLUMN fonte_seq bigint;
CREATE UNIQUE INDEX sap_politica_fonte_idx ON sap_politica (fonte_chiave);
ALTER TABLE patto_inclusione ADD COLUMN fonte_chiave text, ADD COLUMN fonte_il timestamptz, ADD COLUMN fonte_seq bigint;
CREATE UNIQUE INDEX patto_inclusione_fonte_idx ON patto_inclusione (fonte_chiave);
ALTER TABLE profilo ADD COLUMN fonte_il timestamptz, ADD COLUMN fonte_seq bigint;
ALTER TABLE manifestazione_interesse ADD COLUMN fonte_chiave text, ADD COLUMN fonte_il timestamptz, ADD COLUMN fonte_seq bigint;
CREATE UNIQUE INDEX manifestazione_fonte_idx ON manifestazione_interesse (fonte_chiave);

-- Households and members the feeds create get their ids here; the
-- generator writes its own and moves these past them when it is done.
CREATE SEQUENCE nucleo_id_seq OWNED BY nucleo.id;
CREATE SEQUENCE componente_id_seq OWNED BY componente.id;
ALTER TABLE nucleo ALTER COLUMN id SET DEFAULT nextval('nucleo_id_seq');
ALTER TABLE componente ALTER COLUMN id SET DEFAULT nextval('componente_id_seq');
SELECT setval('nucleo_id_seq', coalesce(max(id), 0) + 1, false) FROM nucleo;
SELECT setval('componente_id_seq', coalesce(max(id), 0) + 1, false) FROM componente;

-- The PAD (Patto di attivazione digitale) a citizen signs on SIISL; the
-- agencies and branches chosen with it are scelta_apl's rows.
CREATE TABLE pad (
    componente_id    bigint PRIMARY KEY REFERENCES componente (id),
    sottoscritto_il  timestamptz NOT NULL,
    fonte_il         timestamptz,
    fonte_seq        bigint
);

-- One batch a source sent: a body of records (INCREMENTALE, applied before
-- the answer) or a file (FILE, applied by a job with checkpoints).
CREATE TABLE feed_batch (
    id            uuid PRIMARY KEY,
    fonte         text NOT NULL CHECK (fonte IN ('INPS', 'ANPAL', 'GEPI', 'SIISL')),
    modo          text NOT NULL CHECK (modo IN ('INCREMENTALE', 'FILE')),
    stato         text NOT NULL CHECK (stato IN ('ATTESA_FILE', 'IN_CODA', 'IN_CORSO', 'COMPLETATO', 'FALLITO')),
    client_id     text NOT NULL,
    request_id    text NOT NULL,
    oggetto       text,                      -- the file in MinIO (FILE)
    byte_totali   bigint,
    sha256        text,
    -- Progress: what has been applied and committed. A job resumes at
    -- byte_letti (the start of line righe_lette + 1).
    righe_lette   bigint NOT NULL DEFAULT 0,
    byte_letti    bigint NOT NULL DEFAULT 0,
    accettati     bigint NOT NULL DEFAULT 0,
    obsoleti      bigint NOT NULL DEFAULT 0,
    scartati      bigint NOT NULL DEFAULT 0,
    errore        text,                      -- why it failed; never a value from the file
    tentativi     integer NOT NULL DEFAULT 0,
    lease_id      uuid,                      -- the job running it, and until when
    lease_scade   timestamptz,
    creato_il     timestamptz NOT NULL DEFAULT now(),
    avviato_il    timestamptz,
    concluso_il   timestamptz
);
CREATE INDEX feed_batch_fonte_idx ON feed_batch (fonte, creato_il DESC, id);
CREATE INDEX feed_batch_coda_idx ON feed_batch (creato_il) WHERE stato IN ('IN_CODA', 'IN_CORSO');

-- A record refused: its line, the field at fault and a code; never a value.
CREATE TABLE feed_scarto (
    batch_id  uuid   NOT NULL REFERENCES feed_batch (id) ON DELETE CASCADE,
    riga      bigint NOT NULL,
    campo     text   NOT NULL,
    codice    text   NOT NULL,
    PRIMARY KEY (batch_id, riga)
);

-- Withdrawn records (tombstones): a record of that key no newer than its
-- withdrawal is stale.
CREATE TABLE feed_ritiro (
    tipo   text        NOT NULL,
    chiave text        NOT NULL,
    il     timestamptz NOT NULL,
    seq    bigint      NOT NULL,
    PRIMARY KEY (tipo, chiave)
);

---- create above / drop below ----
DROP TABLE feed_ritiro;
DROP TABLE feed_scarto;
DROP TABLE feed_batch;
DROP TABLE pad;
ALTER TABLE componente ALTER COLUMN id DROP DEFAULT;
ALTER TABLE nucleo ALTER COLUMN id DROP DEFAULT;
DROP SEQUENCE componente_id_seq;
DROP SEQUENCE nucleo_id_seq;
DROP INDEX manifestazione_fonte_idx;
ALTER TABLE manifestazione_interesse DROP COLUMN fonte_chiave, DROP COLUMN fonte_il, DROP COLUMN fonte_seq;
ALTER TABLE profilo DROP COLUMN fonte_il, DROP COLUMN fonte_seq;
DROP INDEX patto_inclusione_fonte_idx;
ALTER TABLE patto_inclusione DROP COLUMN fonte_chiave, DROP COLUMN fonte_il, DROP COLUMN fonte_seq;
DROP INDEX sap_politica_fonte_idx;
ALTER TABLE sap_politica DROP COLUMN fonte_chiave, DROP COLUMN fonte_il, DROP COLUMN fonte_seq;
DROP INDEX did_fonte_idx;
ALTER TABLE did DROP COLUMN fonte_chiave, DROP COLUMN fonte_il, DROP COLUMN fonte_seq;
ALTER TABLE componente DROP COLUMN fonte_il, DROP COLUMN fonte_seq;
ALTER TABLE nucleo DROP COLUMN fonte_il, DROP COLUMN fonte_seq;
ALTER TABLE nucleo DROP CONSTRAINT nucleo_stato_domanda_check;
ALTER TABLE nucleo ADD CONSTRAINT nucleo_stato_domanda_check CHECK (stato_domanda IN
    ('ACCOLTA', 'IN_ISTRUTTORIA', 'SOSPESA', 'DECADUTA', 'TERMINATA'));
