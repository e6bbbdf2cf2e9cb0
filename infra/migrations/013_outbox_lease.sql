-- An outbox row records the outcome of a delivery only for the claim that
-- still holds it (issue 11). A worker that stalled past its lease, while
-- another claimed the row and delivered it, used to write its late failure
-- over the delivery, setting the notification back to pending to be sent
-- again. Each claim now writes its own id here, and every statement that
-- records an outcome (delivered, retry, set aside) or gives the row back
-- matches only that id, and clears it; an outcome that matches nothing is
-- logged and dropped. The lease's end stays prossimo_tentativo.
--
-- Replicas of the previous version neither write nor check it: until the
-- last of them stops, their late outcomes are as unguarded as before.
ALTER TABLE consegna ADD COLUMN tentativo_id uuid; -- the claim holding the row; NULL: none

---- create above / drop below ----
ALTER TABLE consegna DROP COLUMN tentativo_id;
