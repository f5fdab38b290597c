-- A private service may declare that its endpoint honours
-- `Idempotency-Key` (the request id it is sent): after a crash during its
-- call, the call is repeated to learn the outcome instead of leaving it to
-- an operator.
ALTER TABLE custom_operations ADD COLUMN idempotent BOOLEAN NOT NULL DEFAULT false;
