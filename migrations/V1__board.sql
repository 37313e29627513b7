-- The board's ordered key space (see src/store/postgres.rs): one row per
-- key of the embedded store's layout, so both engines hold the same records.
CREATE TABLE baton_board (
    k bytea PRIMARY KEY,
    v bytea NOT NULL
);
