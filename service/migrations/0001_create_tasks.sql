-- Tasks belong to one user: the `sub` of the JWT that created them.
CREATE TABLE tasks (
    id          uuid        PRIMARY KEY,
    user_id     text        NOT NULL,
    title       text        NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    description text        CHECK (char_length(description) <= 2000),
    completed   boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Serves both "one user's task by id" checks and the newest-first page of the list endpoint.
CREATE INDEX tasks_user_newest_idx ON tasks (user_id, created_at DESC, id DESC);

-- Each user's task count, kept by trigger so that the list endpoint's `total` is one row read
-- instead of a count over all of the user's tasks on every page.
CREATE TABLE task_counts (
    user_id text   PRIMARY KEY,
    total   bigint NOT NULL CHECK (total >= 0)
);

CREATE FUNCTION tasks_keep_count() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO task_counts (user_id, total) VALUES (NEW.user_id, 1)
        ON CONFLICT (user_id) DO UPDATE SET total = task_counts.total + 1;
        RETURN NEW;
    END IF;
    UPDATE task_counts SET total = total - 1 WHERE user_id = OLD.user_id;
    RETURN OLD;
END;
$$;

CREATE TRIGGER tasks_keep_count
AFTER INSERT OR DELETE ON tasks
FOR EACH ROW EXECUTE FUNCTION tasks_keep_count();
