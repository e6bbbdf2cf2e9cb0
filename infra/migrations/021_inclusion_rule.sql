-- The art. 3 c.6 rule, in one place (docs/domain.md#the-art-3-c6-exclusion):
-- a Patto per l'inclusione sociale covers its members on a day when it is
-- signed (SOTTOSCRITTO), its signature is not after that day and its end,
-- if any, is not before it. Only a signed pact excludes a DID holder from
-- the CPI's call-in: a pact being defined (IN_DEFINIZIONE: the household
-- was just sent to the social services) excludes nobody, nor does one
-- concluded or interrupted (CONCLUSO, INTERROTTO), whatever its dates.
--
-- A plain SQL function, so the planner inlines it into every query that
-- asks (did-holder-exclusion, the anonymised export): one rule, no cost.
CREATE FUNCTION patto_inclusione_copre(stato text, sottoscrizione date, fine date, giorno date)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(stato = 'SOTTOSCRITTO' AND sottoscrizione <= giorno AND (fine IS NULL OR fine >= giorno), false)
$$;

---- create above / drop below ----
DROP FUNCTION patto_inclusione_copre(text, date, date, date);
