-- Per-client request counts (service/ratelimit.py), one row per limit and client address.
-- A request is counted and checked in one INSERT … ON CONFLICT DO UPDATE … RETURNING, so that
-- every web process sees the same count and a rush passes exactly the limit; Litestar's own
-- middleware read the count from kv_store and wrote it back, and concurrent requests slipped
-- through in between. Losing the counts in a crash only resets the windows.
CREATE UNLOGGED TABLE rate_limit (
    key            text PRIMARY KEY,
    window_ends_at timestamptz NOT NULL,
    hits           integer NOT NULL CHECK (hits >= 1)
);
CREATE INDEX rate_limit_window_idx ON rate_limit (window_ends_at);

-- kv_store backed only that middleware's store.
DROP TABLE kv_store;
