-- Parquet beside gzip CSV: a recipient's default format, which a request may
-- override. export.formato already records each export's format.
ALTER TABLE export_destinatario
    ADD COLUMN formato text NOT NULL DEFAULT 'csv.gz' CHECK (formato IN ('csv.gz', 'parquet'));
ALTER TABLE export ADD CONSTRAINT export_formato_check CHECK (formato IN ('csv.gz', 'parquet'));

---- create above / drop below ----
ALTER TABLE export DROP CONSTRAINT export_formato_check;
ALTER TABLE export_destinatario DROP COLUMN formato;
