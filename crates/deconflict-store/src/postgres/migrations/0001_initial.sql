-- deconflict PostgreSQL schema, version 1.
--
-- Portable SQL only (PostgreSQL, CockroachDB, YugabyteDB): no extensions, no SERIAL, no
-- PostgreSQL-only index kinds. Integers are BIGINT everywhere (CockroachDB's INTEGER is 64-bit).
-- Times are microseconds since the Unix epoch. `extents` holds the volumes in the versioned
-- binary form of `codec.rs`; `volumes` holds one row per volume with its index box, for area
-- look-ups (see `area.rs`).

CREATE TABLE operational_intents (
    id TEXT PRIMARY KEY,
    manager TEXT NOT NULL,
    version BIGINT NOT NULL,
    ovn TEXT NOT NULL,
    state TEXT NOT NULL,
    uss_base_url TEXT NOT NULL,
    subscription_id TEXT,
    extents BYTEA NOT NULL,
    time_end_us BIGINT NOT NULL
);
CREATE INDEX operational_intents_time_end ON operational_intents (time_end_us);

CREATE TABLE constraints (
    id TEXT PRIMARY KEY,
    manager TEXT NOT NULL,
    version BIGINT NOT NULL,
    ovn TEXT NOT NULL,
    uss_base_url TEXT NOT NULL,
    extents BYTEA NOT NULL,
    time_end_us BIGINT NOT NULL
);
CREATE INDEX constraints_time_end ON constraints (time_end_us);

CREATE TABLE subscriptions (
    id TEXT PRIMARY KEY,
    manager TEXT NOT NULL,
    version TEXT NOT NULL,
    notification_index BIGINT NOT NULL,
    uss_base_url TEXT NOT NULL,
    notify_for_operational_intents BOOLEAN NOT NULL,
    notify_for_constraints BOOLEAN NOT NULL,
    implicit BOOLEAN NOT NULL,
    dependent_operational_intents TEXT NOT NULL,
    extents BYTEA NOT NULL,
    time_end_us BIGINT NOT NULL
);
CREATE INDEX subscriptions_time_end ON subscriptions (time_end_us);

-- One row per volume of every entity. kind: 1 operational intent, 2 constraint,
-- 3 subscription. The box is the volume's index box (deconflict_geo::PreparedVolume::
-- index_bounds): x, y, z in metres from the Earth's centre, altitude in metres, time in seconds
-- from 2025-06-15. size_class bounds the box's extent in x, y and z, and face is the axis (and
-- sign) of the box centre's largest coordinate, (cu, cv) the grid cell of the box's lower
-- corner along the other two axes, in cells of the class's size (see area.rs): "boxes overlap"
-- becomes a few short B-tree range scans.
CREATE TABLE volumes (
    kind SMALLINT NOT NULL,
    entity_id TEXT NOT NULL,
    idx BIGINT NOT NULL,
    size_class SMALLINT NOT NULL,
    face SMALLINT NOT NULL,
    cu BIGINT NOT NULL,
    cv BIGINT NOT NULL,
    x_lo DOUBLE PRECISION NOT NULL,
    x_hi DOUBLE PRECISION NOT NULL,
    y_lo DOUBLE PRECISION NOT NULL,
    y_hi DOUBLE PRECISION NOT NULL,
    z_lo DOUBLE PRECISION NOT NULL,
    z_hi DOUBLE PRECISION NOT NULL,
    alt_lo DOUBLE PRECISION NOT NULL,
    alt_hi DOUBLE PRECISION NOT NULL,
    t_lo DOUBLE PRECISION NOT NULL,
    t_hi DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (kind, entity_id, idx)
);
CREATE INDEX volumes_area ON volumes (kind, size_class, face, cu, cv);

CREATE TABLE uss_availability (
    uss TEXT PRIMARY KEY,
    availability TEXT NOT NULL,
    version TEXT NOT NULL
);

CREATE TABLE reports (
    id TEXT PRIMARY KEY,
    reporter TEXT NOT NULL,
    received_us BIGINT NOT NULL,
    body TEXT NOT NULL
);

-- Never holds a row: writes lock it (shared, or exclusive for a write that keeps failing to
-- serialize) on PostgreSQL; see PostgresStore.
CREATE TABLE write_gate (
    id BIGINT PRIMARY KEY
);
