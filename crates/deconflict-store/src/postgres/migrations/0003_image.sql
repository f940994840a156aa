-- deconflict PostgreSQL schema, version 3: every instance answers from an in-memory image of
-- the airspace and keeps it coherent with the database through sequence numbers (image.rs).
--
-- `log_head` holds one row: `seq` is the number of the last committed write transaction. A
-- write transaction takes the next number by updating that row first and keeps the row locked
-- until it commits, so numbers are gap-free and in commit order. Every row a transaction
-- writes carries its number in `seq`; a deleted entity leaves a row in `tombstones` with it.
-- An instance whose image is at number N catches up with the rows whose `seq` is above N.
-- Tombstones older than an hour are pruned; `pruned` is the highest number pruned, and an
-- image older than it is loaded again in full.
--
-- Area look-ups are answered from memory: the `volumes` grid index of version 1 goes, and the
-- purge finds what has ended from memory too. `write_gate` goes: the lock on `log_head`
-- orders the writes of every instance (and an instance of an older build, which cannot keep an
-- image coherent, fails on it rather than write).

ALTER TABLE operational_intents ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX operational_intents_seq ON operational_intents (seq);
ALTER TABLE constraints ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX constraints_seq ON constraints (seq);
ALTER TABLE subscriptions ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX subscriptions_seq ON subscriptions (seq);
ALTER TABLE uss_availability ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX uss_availability_seq ON uss_availability (seq);
ALTER TABLE documents ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX documents_seq ON documents (seq);

DROP INDEX operational_intents_time_end;
DROP INDEX constraints_time_end;
DROP INDEX subscriptions_time_end;
DROP TABLE volumes;
DROP TABLE write_gate;

CREATE TABLE log_head (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    pruned BIGINT NOT NULL
);
INSERT INTO log_head (id, seq, pruned) VALUES (1, 0, 0);

-- kind: 1 operational intent, 2 constraint, 3 subscription, 4 document (of kind doc_kind;
-- '' for the others).
CREATE TABLE tombstones (
    kind SMALLINT NOT NULL,
    doc_kind TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    deleted_us BIGINT NOT NULL,
    PRIMARY KEY (kind, doc_kind, entity_id)
);
CREATE INDEX tombstones_seq ON tombstones (seq);
CREATE INDEX tombstones_deleted ON tombstones (deleted_us);
