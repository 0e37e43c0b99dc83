//! A task, and what it takes to create or change one.

use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use super::text::{TaskDescription, TaskTitle};

/// A task as stored and as returned by the API.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Task {
    pub id: Uuid,
    #[schema(min_length = 1, max_length = 200, example = "Water the plants")]
    pub title: String,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    pub completed: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A task to create.
#[derive(Debug, Clone)]
pub struct NewTask {
    pub title: TaskTitle,
    pub description: Option<TaskDescription>,
    pub completed: bool,
}

/// Fields to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TaskChanges {
    pub title: Option<TaskTitle>,
    /// `Some(None)` clears the description.
    pub description: Option<Option<TaskDescription>>,
    pub completed: Option<bool>,
}

/// One page of a user's tasks, newest first, and how many tasks the user has in all.
#[derive(Debug, Clone)]
pub struct TaskPage {
    pub items: Vec<Task>,
    pub total: i64,
}
