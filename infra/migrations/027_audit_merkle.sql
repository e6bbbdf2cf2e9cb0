-- The audit trail as a verifiable log (docs/audit-log.md): every record
-- becomes a leaf of an RFC 6962 Merkle tree, in the order a sequencer
-- (package auditlog) reaches it, and signed tree heads commit to the whole
-- log at a size. Whoever holds a head can then prove that no record below
-- it was changed, deleted, inserted or moved.
--
-- The sequencer must know which records are final without a counter that
-- every audit insert would queue on: each record carries the id of the
-- transaction that wrote it, and a transaction id below the oldest one
-- still running (pg_snapshot_xmin) belongs to a transaction that has ended,
-- so its records, if committed, are all visible and will never change.
-- The records that existed before this version get '0' and go first.
ALTER TABLE audit_log ADD COLUMN xid xid8 NOT NULL DEFAULT '0';
ALTER TABLE audit_log ALTER COLUMN xid SET DEFAULT pg_current_xact_id();
-- The sequencer's reading order; new ids land on the right edge.
CREATE INDEX audit_log_xid_idx ON audit_log (xid, id);

-- One leaf per record. hash is RFC 6962's leaf hash of the record's
-- canonical encoding (auditlog.Encode), kept so that a proof can be built
-- without re-reading records; the verifier never trusts it, it recomputes.
CREATE TABLE audit_leaf (
    idx      bigint PRIMARY KEY,
    audit_id bigint NOT NULL UNIQUE,
    hash     bytea  NOT NULL
);

-- The hashes of the perfect subtrees of 256 leaves and more: any node of a
-- proof is then one row here or the hash of at most 128 leaves.
CREATE TABLE audit_node (
    level smallint NOT NULL,
    idx   bigint   NOT NULL,
    hash  bytea    NOT NULL,
    PRIMARY KEY (level, idx)
);

-- Signed tree heads: the log's size and root, signed with the audit-log
-- key (typ rdc-tree-head+jws, published in the JWKS).
CREATE TABLE audit_tree_head (
    size      bigint PRIMARY KEY,
    root      bytea NOT NULL,
    signed_at timestamptz NOT NULL,
    jws       text NOT NULL
);

-- The sequencer's place: how many leaves, the transaction-id bound below
-- which every record is a leaf, and the compact range of the tree (the
-- roots of its perfect subtrees, left to right). A pass towards target
-- that is cut into several transactions (a large backlog) resumes after
-- (after_xid, after_id). Its one row is the lock that makes sequencers
-- take turns.
CREATE TABLE audit_log_state (
    one       boolean PRIMARY KEY DEFAULT true CHECK (one),
    size      bigint NOT NULL,
    below     xid8   NOT NULL,
    hashes    bytea[] NOT NULL,
    target    xid8   NOT NULL DEFAULT '0',
    after_xid xid8   NOT NULL DEFAULT '0',
    after_id  bigint NOT NULL DEFAULT 0
);
INSERT INTO audit_log_state (size, below, hashes) VALUES (0, '0', '{}');

-- Append-only, whoever asks: an UPDATE, DELETE or TRUNCATE of the trail
-- or of its proof fails even for the tables' owner. Only a superuser who
-- turns triggers off (session_replication_role = replica) gets past, and
-- what they change the verifier finds.
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_leaf_append_only BEFORE UPDATE OR DELETE ON audit_leaf
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_leaf_no_truncate BEFORE TRUNCATE ON audit_leaf
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_node_append_only BEFORE UPDATE OR DELETE ON audit_node
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_node_no_truncate BEFORE TRUNCATE ON audit_node
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_tree_head_append_only BEFORE UPDATE OR DELETE ON audit_tree_head
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_tree_head_no_truncate BEFORE TRUNCATE ON audit_tree_head
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();

-- The functions' role (docs/audit-log.md#roles): everything they need, but
-- no UPDATE, DELETE or TRUNCATE of the trail and its proof. A deployment
-- gives its functions a login role that is a member of rdc_app and keeps
-- the owner (which runs these migrations) for migrations alone. The role
-- is the cluster's, so another database may have made it already.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rdc_app') THEN
        CREATE ROLE rdc_app NOLOGIN;
    END IF;
END $$;
GRANT USAGE ON SCHEMA public TO rdc_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO rdc_app;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO rdc_app;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO rdc_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO rdc_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO rdc_app;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, audit_leaf, audit_node, audit_tree_head FROM rdc_app;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, audit_leaf, audit_node, audit_tree_head FROM PUBLIC;

---- create above / drop below ----
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM rdc_app;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM rdc_app;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM rdc_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM rdc_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM rdc_app;
REVOKE USAGE ON SCHEMA public FROM rdc_app;
DROP TABLE audit_log_state, audit_tree_head, audit_node, audit_leaf;
DROP TRIGGER audit_log_append_only ON audit_log;
DROP TRIGGER audit_log_no_truncate ON audit_log;
DROP FUNCTION audit_append_only();
DROP INDEX audit_log_xid_idx;
ALTER TABLE audit_log DROP COLUMN xid;
