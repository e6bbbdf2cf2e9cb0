-- An Idempotency-Key belongs to the client, the function, the method and the
-- resource it was used on (the request's path within the function): the
-- same key elsewhere, e.g. on a refusal of another offer, is an independent
-- request, not a replay of the first.
--
-- The defaults serve only the replicas of the previous version during a
-- rolling deploy: their rows match no request of this version.
ALTER TABLE idempotenza
    DROP CONSTRAINT idempotenza_pkey,
    ADD COLUMN metodo   text NOT NULL DEFAULT '',
    ADD COLUMN percorso text NOT NULL DEFAULT '';

-- The keys written before keep protecting their retries. Every route that
-- took a key was a POST at the function's root, but the refusals
-- (POST /{id}/rifiuti), told apart by their function's name: their offer
-- is the refusal's.
UPDATE idempotenza i SET funzione = 'apl-offers', metodo = 'POST', percorso = '/' || r.offerta_id || '/rifiuti'
FROM rifiuto_offerta r
WHERE i.funzione = 'apl-offers/rifiuti' AND r.id::text = i.risorsa;
UPDATE idempotenza SET metodo = 'POST', percorso = '/'
WHERE metodo = '' AND funzione IN ('transfer-to-cpi', 'transfer-to-social-services', 'apl-offers', 'anonymised-export');

ALTER TABLE idempotenza ADD PRIMARY KEY (client_id, funzione, metodo, percorso, chiave);

---- create above / drop below ----
-- The previous version kept one resource per client, function and key: the
-- refusals go back under their own function's name, the notes' keys (which
-- it did not take) go, and of one key used on several resources the oldest stays.
ALTER TABLE idempotenza DROP CONSTRAINT idempotenza_pkey;
UPDATE idempotenza SET funzione = 'apl-offers/rifiuti' WHERE funzione = 'apl-offers' AND percorso LIKE '%/rifiuti';
DELETE FROM idempotenza WHERE funzione NOT IN ('transfer-to-cpi', 'transfer-to-social-services', 'apl-offers', 'apl-offers/rifiuti', 'anonymised-export');
DELETE FROM idempotenza i USING idempotenza j
WHERE (i.client_id, i.funzione, i.chiave) = (j.client_id, j.funzione, j.chiave)
  AND (i.creato_il, i.metodo, i.percorso) > (j.creato_il, j.metodo, j.percorso);
ALTER TABLE idempotenza ADD PRIMARY KEY (client_id, funzione, chiave),
    DROP COLUMN metodo, DROP COLUMN percorso;
