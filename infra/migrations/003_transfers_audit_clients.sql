-- Transfers between the two sides, the audit trail, and the OAuth2 clients.

-- Every move of a household between the CPI and the social services, in order:
-- the full history of moves back and forth. nucleo.servizio_competente is the latest.
CREATE TABLE trasferimento (
    id              uuid   PRIMARY KEY,
    nucleo_id       bigint NOT NULL REFERENCES nucleo (id),
    verso           text   NOT NULL CHECK (verso IN ('CPI', 'SERVIZI_SOCIALI')),
    da              text   NOT NULL CHECK (da IN ('NESSUNO', 'CPI', 'SERVIZI_SOCIALI')),
    motivazione     text,
    componenti      bigint[] NOT NULL,      -- the members concerned (to be called in)
    client_id       text   NOT NULL,
    org             text   NOT NULL,
    request_id      text   NOT NULL,
    creato_il       timestamptz NOT NULL DEFAULT now(),
    CHECK (verso <> da)
);
CREATE INDEX trasferimento_nucleo_idx ON trasferimento (nucleo_id, creato_il);

-- One row per access to personal data, written before the answer leaves.
-- subject_ref is a keyed hash of the canonical codice fiscale (or other subject key),
-- so the trail can answer "who looked at this person" without holding the code itself.
CREATE TABLE audit_log (
    id          bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
    at          timestamptz NOT NULL,
    request_id  text NOT NULL,
    client_id   text NOT NULL,
    org         text NOT NULL,
    function    text NOT NULL,
    action      text NOT NULL,
    subject_ref text,
    nucleo_id   bigint,
    outcome     text NOT NULL,     -- e.g. found, not_found, created, conflict, denied
    status      smallint NOT NULL
);
-- Append-only in time order: a BRIN index costs almost nothing per insert.
CREATE INDEX audit_log_at_idx ON audit_log USING brin (at);
CREATE INDEX audit_log_subject_idx ON audit_log (subject_ref) WHERE subject_ref IS NOT NULL;

CREATE TABLE oauth_client (
    client_id    text PRIMARY KEY,
    nome         text NOT NULL,
    secret_hash  text,                       -- bcrypt; null for private_key_jwt-only clients
    jwks         jsonb,                      -- public keys for private_key_jwt
    org          text NOT NULL,              -- GEPI, ANPAL, MLPS, REGIONE:<code>, APL:<id>
    scopes       text[] NOT NULL,
    apl_ruolo    text CHECK (apl_ruolo IN ('master', 'super', 'operatore')),
    filiali      text[] NOT NULL DEFAULT '{}',
    allowed_cidrs cidr[] NOT NULL DEFAULT '{}',  -- empty: any address
    abilitato    boolean NOT NULL DEFAULT true,
    creato_il    timestamptz NOT NULL DEFAULT now(),
    CHECK (secret_hash IS NOT NULL OR jwks IS NOT NULL)
);

-- private_key_jwt assertions already used (RFC 7523 §3 replay protection).
CREATE TABLE oauth_assertion_jti (
    client_id   text NOT NULL REFERENCES oauth_client (client_id),
    jti         text NOT NULL,
    scade_il    timestamptz NOT NULL,
    PRIMARY KEY (client_id, jti)
);

---- create above / drop below ----
DROP TABLE oauth_assertion_jti;
DROP TABLE oauth_client;
DROP TABLE audit_log;
DROP TABLE trasferimento;
