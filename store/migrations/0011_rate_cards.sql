-- Rate cards: a statement keeps which rate-card row applied to what (its breakdown: row,
-- label, basis, net sales, units, royalty); statements stored before are left with none.
-- A signature envelope keeps the sha256 of the terms and scope it asks to sign
-- (`domain/signed_terms.py`); envelopes sent before have none.
ALTER TABLE statements ADD COLUMN breakdown jsonb NOT NULL DEFAULT '[]'::jsonb;
ALTER TABLE signature_envelopes ADD COLUMN terms_hash text;
