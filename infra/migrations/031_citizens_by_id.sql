-- An agency's citizens page in id order within the agency (issue 18): the
-- search in its default order read every citizen of the agency and sorted
-- them for each page. This index gives them in order, with the branch and
-- the date of the choice the page filters and shows; the search's keyset
-- is on scelta_apl's own column (the citizen's id) so that it bounds the
-- walk.
CREATE INDEX scelta_apl_componente_idx ON scelta_apl (apl_id, componente_id) INCLUDE (filiale, scelta_il);

---- create above / drop below ----
DROP INDEX scelta_apl_componente_idx;
