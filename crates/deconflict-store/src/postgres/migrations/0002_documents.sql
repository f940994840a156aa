-- deconflict PostgreSQL schema, version 2: records of the layers built on the DSS (the
-- humanitarian layer's parties, sites and movements), written in the same transaction as the
-- DSS entities they publish. `body` is the layer's own JSON, kept as text (portable SQL).

CREATE TABLE documents (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    owner TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
