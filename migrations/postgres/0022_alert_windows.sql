-- Alert windows (issue 16): an alert such as alert.brute_force is raised once when an attack on
-- an account or from an address begins, not once per refused attempt. A window opens with the
-- first alert and stays open while the condition recurs; once it has been quiet long enough, the
-- next occurrence opens a new window (and raises the alert again). Shared by every replica.
CREATE TABLE alert_windows (
    key       TEXT PRIMARY KEY,   -- e.g. 'alert.brute_force ip:10.0.0.7'
    opened_at BIGINT NOT NULL,
    last_at   BIGINT NOT NULL    -- the latest occurrence
);
