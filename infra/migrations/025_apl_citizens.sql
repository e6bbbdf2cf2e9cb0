-- apl-citizens reads an agency's notes back (issue 15): the agency's list
-- pages in id order (keyset on id), so an index on (apl_id, id) walks one
-- agency's notes in page order instead of sorting all of them for each page.
-- The per-citizen list keeps using annotazione_apl_idx (apl_id, componente_id, creata_il).
CREATE INDEX annotazione_apl_pagina_idx ON annotazione_apl (apl_id, id);

---- create above / drop below ----
DROP INDEX annotazione_apl_pagina_idx;
