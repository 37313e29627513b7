-- Leader election (see src/ha/mod.rs): one row, the current leadership.
-- `epoch` grows by one at every election; the leader renews `expires_at`
-- (database time) while it lives, every write transaction of the board
-- checks that its epoch is still this row's and unexpired (holding the row
-- FOR KEY SHARE until it commits; a takeover locks it FOR UPDATE first, so it
-- waits for such writes), and a candidate may take over only once
-- `expires_at` has passed.
CREATE TABLE baton_leader (
    id integer PRIMARY KEY CHECK (id = 1),
    epoch bigint NOT NULL,
    holder text NOT NULL,
    advertise_url text NOT NULL,
    expires_at timestamptz NOT NULL
);
INSERT INTO baton_leader (id, epoch, holder, advertise_url, expires_at)
VALUES (1, 0, '', '', '-infinity');
