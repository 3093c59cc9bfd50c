-- The X.509 certificate (DER) of each issuer key: mdoc verifiers trust certificates, not
-- bare keys, and HAIP-profile verifiers read x5c. Made when the key is made and stored
-- with it, so every instance hands out the same certificate; NULL only for keys from
-- before this migration, which get theirs on first use.
ALTER TABLE issuer_keys ADD COLUMN certificate BLOB;
