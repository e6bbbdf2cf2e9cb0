-- AgID ModI INTEGRITY_REST_01 (issue 17): a client registered so gets the
-- answers of the look-ups and the transfers with a Digest of the body and
-- the platform's Agid-JWT-Signature over it, and must sign its own writes
-- (transfers, feeds) with the key of its JWKS. Off unless set.
ALTER TABLE oauth_client ADD COLUMN integrita_rest boolean NOT NULL DEFAULT false;

---- create above / drop below ----
ALTER TABLE oauth_client DROP COLUMN integrita_rest;
