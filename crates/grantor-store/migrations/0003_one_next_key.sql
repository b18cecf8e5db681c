-- One rotation at a time: at most one `next` key per algorithm, so nodes that reach a
-- scheduled rotation at the same moment create one key between them. Keys left over from
-- such a race are only published, never signed with, so all but one can go.
DELETE FROM signing_keys
WHERE state = 'next'
  AND kid NOT IN (SELECT MIN(kid) FROM signing_keys WHERE state = 'next' GROUP BY alg);

CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (alg) WHERE state = 'next';
