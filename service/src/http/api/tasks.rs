//! `/api/tasks`: create, list, read, update and delete the caller's tasks.

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::openapi::schema::{Object, ObjectBuilder, SchemaType, Type};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::error::{ApiError, ErrorBody, FieldError};
use super::extract;
use super::routes::Table;
use super::state::AppState;
use crate::domain::{InvalidText, NewTask, Task, TaskChanges, TaskDescription, TaskTitle, UserId};

const DEFAULT_PAGE_SIZE: i64 = 20;
const MAX_PAGE_SIZE: i64 = 100;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTask {
    /// 1 to 200 characters, not only whitespace, no NUL; surrounding whitespace is removed.
    #[schema(schema_with = title_schema)]
    pub title: String,
    /// At most 2000 characters, no NUL.
    #[schema(schema_with = nullable_description_schema)]
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub completed: bool,
}

/// Fields to change; absent fields stay as they are, `"description": null` clears it.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTask {
    /// A new title: 1 to 200 characters, not only whitespace, no NUL; never null.
    #[schema(schema_with = title_schema)]
    #[serde(default, deserialize_with = "present")]
    pub title: Option<Option<String>>,
    /// A new description (at most 2000 characters, no NUL), or null to clear it.
    #[schema(schema_with = nullable_description_schema)]
    #[serde(default, deserialize_with = "present")]
    pub description: Option<Option<String>>,
    /// Never null.
    #[schema(value_type = bool)]
    #[serde(default, deserialize_with = "present")]
    pub completed: Option<Option<bool>>,
}

fn title_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(
            "1 to 200 characters, not only whitespace, no NUL; surrounding whitespace is removed.",
        ))
        .min_length(Some(1))
        .max_length(Some(TaskTitle::MAX_CHARS))
        .pattern(Some(TaskTitle::PATTERN))
        .examples(["Water the plants"])
        .build()
}

fn nullable_description_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .description(Some("At most 2000 characters, no NUL; null for none."))
        .max_length(Some(TaskDescription::MAX_CHARS))
        .pattern(Some(TaskDescription::PATTERN))
        .build()
}

/// Tells "field absent" (`None`) from "field is null" (`Some(None)`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size, 1 to 100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<i64>,
    /// Tasks to skip, from the newest.
    #[param(minimum = 0, default = 0)]
    pub offset: Option<i64>,
}

/// One page of the caller's tasks, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskList {
    pub items: Vec<Task>,
    /// How many tasks the caller has in all.
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// The routes of `/api/tasks` and `/api/tasks/{id}`.
pub fn declare(table: &mut Table) {
    table
        .resource("/api/tasks", warp::path!("api" / "tasks").map(|| ()))
        .route(
            __path_list_tasks,
            extract::user().and(extract::query::<ListQuery>()).map(pair),
            list_tasks,
        )
        .route(
            __path_create_task,
            extract::user()
                .and(extract::json_body::<CreateTask>())
                .map(pair),
            create_task,
        )
        .finish();
    table
        .resource("/api/tasks/{id}", warp::path!("api" / "tasks" / Uuid))
        .route(__path_get_task, extract::user(), get_task)
        .route(
            __path_update_task,
            extract::user()
                .and(extract::json_body::<UpdateTask>())
                .map(pair),
            update_task,
        )
        .route(__path_delete_task, extract::user(), delete_task)
        .finish();
}

fn pair<A, B>(a: A, b: B) -> (A, B) {
    (a, b)
}

/// Create a task owned by the caller.
#[utoipa::path(
    post,
    path = "/api/tasks",
    request_body = CreateTask,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = Task),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
        (status = 503, description = "Database unavailable; see Retry-After", body = ErrorBody),
    )
)]
pub async fn create_task(
    state: AppState,
    _: (),
    (user, body): (UserId, CreateTask),
) -> Result<Response, ApiError> {
    let mut fields = Fields::default();
    let title = fields.parse("title", TaskTitle::parse(body.title));
    let description = body
        .description
        .map(|text| fields.parse("description", TaskDescription::parse(text)));
    let task = fields.finish(|| {
        Some(NewTask {
            title: title?,
            description: match description {
                None => None,
                Some(parsed) => Some(parsed?),
            },
            completed: body.completed,
        })
    })?;
    let task = state.tasks.create(&user, task).await?;
    Ok(warp::reply::with_status(warp::reply::json(&task), StatusCode::CREATED).into_response())
}

/// List the caller's tasks, newest first.
#[utoipa::path(
    get,
    path = "/api/tasks",
    params(ListQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of tasks", body = TaskList),
        (status = 400, description = "Malformed query string", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 422, description = "limit or offset out of range", body = ErrorBody),
        (status = 503, description = "Database unavailable; see Retry-After", body = ErrorBody),
    )
)]
pub async fn list_tasks(
    state: AppState,
    _: (),
    (user, params): (UserId, ListQuery),
) -> Result<Response, ApiError> {
    let limit = params.limit.unwrap_or(DEFAULT_PAGE_SIZE);
    let offset = params.offset.unwrap_or(0);
    let mut problems = Vec::new();
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        problems.push(FieldError::new(
            "limit",
            format!("must be from 1 to {MAX_PAGE_SIZE}"),
        ));
    }
    if offset < 0 {
        problems.push(FieldError::new("offset", "must not be negative"));
    }
    if !problems.is_empty() {
        return Err(ApiError::Validation(problems));
    }
    let page = state.tasks.list(&user, limit, offset).await?;
    let list = TaskList {
        items: page.items,
        total: page.total,
        limit,
        offset,
    };
    Ok(warp::reply::json(&list).into_response())
}

/// Read one of the caller's tasks.
#[utoipa::path(
    get,
    path = "/api/tasks/{id}",
    params(("id" = Uuid, Path, description = "Task id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The task", body = Task),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such task for this user", body = ErrorBody),
        (status = 503, description = "Database unavailable; see Retry-After", body = ErrorBody),
    )
)]
pub async fn get_task(state: AppState, id: Uuid, user: UserId) -> Result<Response, ApiError> {
    let task = state
        .tasks
        .get(&user, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(warp::reply::json(&task).into_response())
}

/// Change some fields of one of the caller's tasks.
#[utoipa::path(
    patch,
    path = "/api/tasks/{id}",
    params(("id" = Uuid, Path, description = "Task id")),
    request_body = UpdateTask,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The updated task", body = Task),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such task for this user", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
        (status = 503, description = "Database unavailable; see Retry-After", body = ErrorBody),
    )
)]
pub async fn update_task(
    state: AppState,
    id: Uuid,
    (user, body): (UserId, UpdateTask),
) -> Result<Response, ApiError> {
    let mut fields = Fields::default();
    let title = body.title.map(|title| match title {
        Some(text) => fields.parse("title", TaskTitle::parse(text)),
        None => fields.refuse("title", "must not be null"),
    });
    let description = body.description.map(|description| match description {
        Some(text) => fields
            .parse("description", TaskDescription::parse(text))
            .map(Some),
        None => Some(None),
    });
    let completed = body.completed.map(|completed| match completed {
        Some(value) => Some(value),
        None => fields.refuse("completed", "must not be null"),
    });
    let changes = fields.finish(|| {
        // For each field: `None` if absent, the parsed value if present (`?` stops at one
        // that failed to parse, which `fields` has already reported).
        Some(TaskChanges {
            title: match title {
                None => None,
                Some(parsed) => Some(parsed?),
            },
            description: match description {
                None => None,
                Some(parsed) => Some(parsed?),
            },
            completed: match completed {
                None => None,
                Some(parsed) => Some(parsed?),
            },
        })
    })?;
    let task = state
        .tasks
        .update(&user, id, changes)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(warp::reply::json(&task).into_response())
}

/// Delete one of the caller's tasks.
#[utoipa::path(
    delete,
    path = "/api/tasks/{id}",
    params(("id" = Uuid, Path, description = "Task id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such task for this user", body = ErrorBody),
        (status = 503, description = "Database unavailable; see Retry-After", body = ErrorBody),
    )
)]
pub async fn delete_task(state: AppState, id: Uuid, user: UserId) -> Result<Response, ApiError> {
    if state.tasks.delete(&user, id).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::NotFound)
    }
}

/// Collects every invalid field of a request, so one 422 names them all.
#[derive(Default)]
struct Fields(Vec<FieldError>);

impl Fields {
    fn parse<T>(&mut self, field: &str, parsed: Result<T, InvalidText>) -> Option<T> {
        parsed
            .map_err(|problem| self.0.push(FieldError::new(field, problem.to_string())))
            .ok()
    }

    fn refuse<T>(&mut self, field: &str, problem: &str) -> Option<T> {
        self.0.push(FieldError::new(field, problem));
        None
    }

    /// The value built from the parsed fields, or a 422 naming every invalid one.
    fn finish<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, ApiError> {
        if !self.0.is_empty() {
            return Err(ApiError::Validation(self.0));
        }
        build().ok_or_else(|| ApiError::Internal("a field failed without saying why".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_tells_absent_from_null() {
        let body: UpdateTask = serde_json::from_str(r#"{"description": null}"#).unwrap();
        assert!(matches!(body.description, Some(None)));
        assert!(body.title.is_none());
    }
}
