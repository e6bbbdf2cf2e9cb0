-- Anonymised exports chosen by search (docs/anonymisation.md).

-- The last day a household's benefit was paid: set when it ends (DECADUTA,
-- TERMINATA, REVOCATA). A period's population is the people of households
-- whose benefit was active on some day of it: data_decorrenza on or before
-- the period's end, and no data_cessazione before its start.
ALTER TABLE nucleo ADD COLUMN data_cessazione date CHECK (data_cessazione >= data_decorrenza);

-- A recipient's default suppression budget: the share of a period's people
-- a release may withhold.
ALTER TABLE export_destinatario
    ADD COLUMN soppressione_massima double precision NOT NULL DEFAULT 0.05
        CHECK (soppressione_massima >= 0 AND soppressione_massima <= 0.2);

-- The privacy model an export was asked with, frozen at its request, and
-- what the search chose (the node, its loss and risk), kept for the receipt.
ALTER TABLE export
    ADD COLUMN soppressione_massima double precision CHECK (soppressione_massima >= 0 AND soppressione_massima <= 0.2),
    ADD COLUMN l integer CHECK (l >= 2),
    ADD COLUMN sensibili text[],
    ADD COLUMN modello jsonb;

---- create above / drop below ----
ALTER TABLE export DROP COLUMN soppressione_massima, DROP COLUMN l, DROP COLUMN sensibili, DROP COLUMN modello;
ALTER TABLE export_destinatario DROP COLUMN soppressione_massima;
ALTER TABLE nucleo DROP COLUMN data_cessazione;
