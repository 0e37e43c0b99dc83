//! TaskStore: the tasks table, one method per operation, each with its SQL.
//!
//! Every query is scoped by `user_id`, so one user's id can never reach another user's task.
//! Each runs within the query deadline ([`Database::with_connection`], [`Database::read`]).

use tokio_postgres::Row;
use uuid::Uuid;

use super::{Database, DbError};
use crate::domain::{NewTask, Task, TaskChanges, TaskPage, UserId};

fn task_from_row(row: &Row) -> Task {
    Task {
        id: row.get("id"),
        title: row.get("title"),
        description: row.get("description"),
        completed: row.get("completed"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
    }
}

#[derive(Clone)]
pub struct TaskStore {
    db: Database,
}

impl TaskStore {
    pub fn new(db: Database) -> TaskStore {
        TaskStore { db }
    }

    pub async fn create(&self, user: &UserId, task: NewTask) -> Result<Task, DbError> {
        // Time-ordered ids keep inserts at the right edge of the primary key index.
        let id = Uuid::now_v7();
        let row = self
            .db
            .with_connection(async |connection| {
                let statement = connection
                    .prepare_cached(
                        // One clock reading for both timestamps: the columns' defaults would
                        // read the clock twice, and a new task's updated_at could then differ
                        // from created_at.
                        "INSERT INTO tasks (id, user_id, title, description, completed, created_at, updated_at)
                         SELECT $1, $2, $3, $4, $5, at, at FROM clock_timestamp() AS at
                         RETURNING id, title, description, completed, created_at, updated_at",
                    )
                    .await?;
                connection
                    .query_one(
                        &statement,
                        &[
                            &id,
                            &user.as_str(),
                            &task.title.as_str(),
                            &task.description.as_ref().map(|d| d.as_str()),
                            &task.completed,
                        ],
                    )
                    .await
            })
            .await?;
        Ok(task_from_row(&row))
    }

    /// On a shared connection, pipelined with other requests' reads.
    pub async fn get(&self, user: &UserId, id: Uuid) -> Result<Option<Task>, DbError> {
        let row = self
            .db
            .read_opt(
                "SELECT id, title, description, completed, created_at, updated_at
                 FROM tasks WHERE id = $1 AND user_id = $2",
                &[&id, &user.as_str()],
            )
            .await?;
        Ok(row.as_ref().map(task_from_row))
    }

    /// The count comes from `task_counts` (kept by trigger) in the same statement, so a page
    /// costs the same for a user with a thousand tasks as for one with a hundred thousand. On a
    /// pooled connection: queued behind other pages on a shared one, its p99 grew by half
    /// (`db/shared.rs`, bench/README.md).
    pub async fn list(&self, user: &UserId, limit: i64, offset: i64) -> Result<TaskPage, DbError> {
        let rows = self
            .db
            .with_connection(async |connection| {
                let statement = connection
                    .prepare_cached(
                        "SELECT counts.total, page.id, page.title, page.description, page.completed,
                                page.created_at, page.updated_at
                         FROM task_counts AS counts
                         LEFT JOIN LATERAL (
                             SELECT id, title, description, completed, created_at, updated_at
                             FROM tasks
                             WHERE user_id = counts.user_id
                             ORDER BY created_at DESC, id DESC
                             LIMIT $2 OFFSET $3
                         ) AS page ON true
                         WHERE counts.user_id = $1
                         ORDER BY page.created_at DESC, page.id DESC",
                    )
                    .await?;
                connection
                    .query(&statement, &[&user.as_str(), &limit, &offset])
                    .await
            })
            .await?;
        let total = rows.first().map_or(0, |row| row.get::<_, i64>("total"));
        let items = rows
            .iter()
            .filter(|row| row.get::<_, Option<Uuid>>("id").is_some())
            .map(task_from_row)
            .collect();
        Ok(TaskPage { items, total })
    }

    pub async fn update(
        &self,
        user: &UserId,
        id: Uuid,
        changes: TaskChanges,
    ) -> Result<Option<Task>, DbError> {
        let (set_description, description) = match &changes.description {
            Some(description) => (true, description.as_ref().map(|d| d.as_str())),
            None => (false, None),
        };
        let title = changes.title.as_ref().map(|t| t.as_str());
        let row = self
            .db
            .with_connection(async |connection| {
                let statement = connection
                    .prepare_cached(
                        "UPDATE tasks SET
                             title = COALESCE($3, title),
                             description = CASE WHEN $4 THEN $5 ELSE description END,
                             completed = COALESCE($6, completed),
                             updated_at = clock_timestamp()
                         WHERE id = $1 AND user_id = $2
                         RETURNING id, title, description, completed, created_at, updated_at",
                    )
                    .await?;
                connection
                    .query_opt(
                        &statement,
                        &[
                            &id,
                            &user.as_str(),
                            &title,
                            &set_description,
                            &description,
                            &changes.completed,
                        ],
                    )
                    .await
            })
            .await?;
        Ok(row.as_ref().map(task_from_row))
    }

    /// Returns whether the task existed.
    pub async fn delete(&self, user: &UserId, id: Uuid) -> Result<bool, DbError> {
        let deleted = self
            .db
            .with_connection(async |connection| {
                let statement = connection
                    .prepare_cached("DELETE FROM tasks WHERE id = $1 AND user_id = $2")
                    .await?;
                connection.execute(&statement, &[&id, &user.as_str()]).await
            })
            .await?;
        Ok(deleted > 0)
    }
}
