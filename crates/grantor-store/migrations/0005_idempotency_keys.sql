-- Answers to management API writes sent with an Idempotency-Key, so a retried request gets
-- the first answer instead of acting twice. Kept a day. The answer may hold a secret shown
-- once (an app secret, an API token), so it is stored sealed under the key-encryption key.
CREATE TABLE idempotency_keys (
    caller TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request TEXT NOT NULL,
    status BIGINT,
    response_sealed TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (caller, idempotency_key)
);
