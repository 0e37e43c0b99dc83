//! `/api/tasks`: create, list, read, update and delete the caller's tasks.

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::openapi::schema::{Object, ObjectBuilder, SchemaType, Type};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::json::{json_body, query};
use crate::auth::{UserId, require_user};
use crate::error::{ApiError, FieldError};
use crate::state::AppState;
use crate::store::{NewTask, Task, TaskChanges};

const MAX_TITLE_CHARS: usize = 200;
const MAX_DESCRIPTION_CHARS: usize = 2000;
const DEFAULT_PAGE_SIZE: i64 = 20;
const MAX_PAGE_SIZE: i64 = 100;

/// What the document promises a title is, so a client generated from it never sends one that
/// is refused: not only whitespace, no NUL. `\s` does not cover U+0085 in ECMA-262 regexes,
/// while Rust's `trim` removes it, hence the extra escape; every other Rust whitespace character
/// is in `\s`.
pub const TITLE_PATTERN: &str = r"^[^\u0000]*[^\s\u0000\u0085][^\u0000]*$";
/// A description may be any text without NUL (PostgreSQL text cannot hold it).
pub const DESCRIPTION_PATTERN: &str = r"^[^\u0000]*$";

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
        .max_length(Some(MAX_TITLE_CHARS))
        .pattern(Some(TITLE_PATTERN))
        .examples(["Water the plants"])
        .build()
}

fn nullable_description_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .description(Some("At most 2000 characters, no NUL; null for none."))
        .max_length(Some(MAX_DESCRIPTION_CHARS))
        .pattern(Some(DESCRIPTION_PATTERN))
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

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let user = require_user(state.auth.clone());
    let with_state = warp::any().map(move || state.clone());
    let collection = warp::path!("api" / "tasks");
    let item = warp::path!("api" / "tasks" / Uuid);

    let create = collection
        .and(warp::post())
        .and(user.clone())
        .and(json_body::<CreateTask>())
        .and(with_state.clone())
        .then(|user, body, state| respond(create_task(user, body, state)));
    let list = collection
        .and(warp::get())
        .and(user.clone())
        .and(query::<ListQuery>())
        .and(with_state.clone())
        .then(|user, params, state| respond(list_tasks(user, params, state)));
    let get = item
        .and(warp::get())
        .and(user.clone())
        .and(with_state.clone())
        .then(|id, user, state| respond(get_task(id, user, state)));
    let update = item
        .and(warp::patch())
        .and(user.clone())
        .and(json_body::<UpdateTask>())
        .and(with_state.clone())
        .then(|id, user, body, state| respond(update_task(id, user, body, state)));
    let delete = item
        .and(warp::delete())
        .and(user)
        .and(with_state)
        .then(|id, user, state| respond(delete_task(id, user, state)));

    create
        .or(list)
        .unify()
        .or(get)
        .unify()
        .or(update)
        .unify()
        .or(delete)
        .unify()
        .boxed()
}

/// Handler errors become responses here, so a failed handler never falls through to other routes.
async fn respond(handler: impl Future<Output = Result<Response, ApiError>>) -> Response {
    handler.await.unwrap_or_else(ApiError::into_response)
}

/// Create a task owned by the caller.
#[utoipa::path(
    post,
    path = "/api/tasks",
    tag = "tasks",
    request_body = CreateTask,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = Task),
        (status = 400, description = "Malformed JSON", body = crate::error::ErrorBody),
        (status = 401, description = "Missing or invalid token", body = crate::error::ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = crate::error::ErrorBody),
        (status = 415, description = "Body is not JSON", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid fields", body = crate::error::ErrorBody),
        (status = 503, description = "Database unavailable; see Retry-After", body = crate::error::ErrorBody),
    )
)]
pub async fn create_task(
    user: UserId,
    body: CreateTask,
    state: AppState,
) -> Result<Response, ApiError> {
    let mut problems = Vec::new();
    let title = check_title(body.title, &mut problems);
    let description = check_description(body.description, &mut problems);
    if !problems.is_empty() {
        return Err(ApiError::Validation(problems));
    }
    let task = state
        .tasks
        .create(
            &user,
            NewTask {
                title,
                description,
                completed: body.completed,
            },
        )
        .await?;
    Ok(warp::reply::with_status(warp::reply::json(&task), StatusCode::CREATED).into_response())
}

/// List the caller's tasks, newest first.
#[utoipa::path(
    get,
    path = "/api/tasks",
    tag = "tasks",
    params(ListQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of tasks", body = TaskList),
        (status = 400, description = "Malformed query string", body = crate::error::ErrorBody),
        (status = 401, description = "Missing or invalid token", body = crate::error::ErrorBody),
        (status = 422, description = "limit or offset out of range", body = crate::error::ErrorBody),
        (status = 503, description = "Database unavailable; see Retry-After", body = crate::error::ErrorBody),
    )
)]
pub async fn list_tasks(
    user: UserId,
    params: ListQuery,
    state: AppState,
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
    tag = "tasks",
    params(("id" = Uuid, Path, description = "Task id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The task", body = Task),
        (status = 401, description = "Missing or invalid token", body = crate::error::ErrorBody),
        (status = 404, description = "No such task for this user", body = crate::error::ErrorBody),
        (status = 503, description = "Database unavailable; see Retry-After", body = crate::error::ErrorBody),
    )
)]
pub async fn get_task(id: Uuid, user: UserId, state: AppState) -> Result<Response, ApiError> {
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
    tag = "tasks",
    params(("id" = Uuid, Path, description = "Task id")),
    request_body = UpdateTask,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The updated task", body = Task),
        (status = 400, description = "Malformed JSON", body = crate::error::ErrorBody),
        (status = 401, description = "Missing or invalid token", body = crate::error::ErrorBody),
        (status = 404, description = "No such task for this user", body = crate::error::ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = crate::error::ErrorBody),
        (status = 415, description = "Body is not JSON", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid fields", body = crate::error::ErrorBody),
        (status = 503, description = "Database unavailable; see Retry-After", body = crate::error::ErrorBody),
    )
)]
pub async fn update_task(
    id: Uuid,
    user: UserId,
    body: UpdateTask,
    state: AppState,
) -> Result<Response, ApiError> {
    let mut problems = Vec::new();
    let title = match body.title {
        None => None,
        Some(None) => {
            problems.push(FieldError::new("title", "must not be null"));
            None
        }
        Some(Some(title)) => Some(check_title(title, &mut problems)),
    };
    let completed = match body.completed {
        None => None,
        Some(None) => {
            problems.push(FieldError::new("completed", "must not be null"));
            None
        }
        Some(Some(completed)) => Some(completed),
    };
    let description = body
        .description
        .map(|description| check_description(description, &mut problems));
    if !problems.is_empty() {
        return Err(ApiError::Validation(problems));
    }
    let changes = TaskChanges {
        title,
        description,
        completed,
    };
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
    tag = "tasks",
    params(("id" = Uuid, Path, description = "Task id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or invalid token", body = crate::error::ErrorBody),
        (status = 404, description = "No such task for this user", body = crate::error::ErrorBody),
        (status = 503, description = "Database unavailable; see Retry-After", body = crate::error::ErrorBody),
    )
)]
pub async fn delete_task(id: Uuid, user: UserId, state: AppState) -> Result<Response, ApiError> {
    if state.tasks.delete(&user, id).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::NotFound)
    }
}

fn check_title(title: String, problems: &mut Vec<FieldError>) -> String {
    let title = title.trim().to_owned();
    let length = title.chars().count();
    if length == 0 {
        problems.push(FieldError::new("title", "must not be blank"));
    } else if length > MAX_TITLE_CHARS {
        problems.push(FieldError::new(
            "title",
            format!("must be at most {MAX_TITLE_CHARS} characters (got {length})"),
        ));
    }
    check_storable("title", &title, problems);
    title
}

fn check_description(
    description: Option<String>,
    problems: &mut Vec<FieldError>,
) -> Option<String> {
    if let Some(text) = &description {
        let length = text.chars().count();
        if length > MAX_DESCRIPTION_CHARS {
            problems.push(FieldError::new(
                "description",
                format!("must be at most {MAX_DESCRIPTION_CHARS} characters (got {length})"),
            ));
        }
        check_storable("description", text, problems);
    }
    description
}

/// PostgreSQL text cannot hold NUL; catching it here turns a would-be 500 into a 422.
fn check_storable(field: &str, text: &str, problems: &mut Vec<FieldError>) {
    if text.contains('\0') {
        problems.push(FieldError::new(field, "must not contain NUL characters"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_trimmed_and_bounded_in_characters() {
        let mut problems = Vec::new();
        assert_eq!(
            check_title("  Buy milk \n".into(), &mut problems),
            "Buy milk"
        );
        assert_eq!(check_title("é".repeat(200), &mut problems), "é".repeat(200));
        assert!(problems.is_empty(), "{problems:?}");

        check_title("   ".into(), &mut problems);
        check_title("x".repeat(201), &mut problems);
        check_title("nul\0byte".into(), &mut problems);
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    /// ECMA-262's `\s` (the regex dialect of JSON Schema): WhiteSpace and LineTerminator.
    fn ecma_whitespace(c: char) -> bool {
        matches!(
            c,
            '\t' | '\u{b}'
                | '\u{c}'
                | ' '
                | '\u{a0}'
                | '\u{feff}'
                | '\n'
                | '\r'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{1680}'
                | '\u{2000}'..='\u{200a}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
        )
    }

    #[test]
    fn a_title_the_document_accepts_is_never_refused() {
        // TITLE_PATTERN needs one character of the class [^\s\u0000\u0085]; every character
        // of that class must survive `trim`, or a client could send a title that is refused.
        assert!(
            TITLE_PATTERN.contains(r"[^\s\u0000\u0085]"),
            "{TITLE_PATTERN}"
        );
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            let in_class = !ecma_whitespace(c) && c != '\0' && c != '\u{85}';
            if in_class {
                let mut problems = Vec::new();
                check_title(c.to_string(), &mut problems);
                assert!(
                    problems.is_empty(),
                    "U+{:04X} matches the pattern but is refused",
                    c as u32
                );
            }
        }
        let mut problems = Vec::new();
        check_title("x".repeat(MAX_TITLE_CHARS), &mut problems);
        check_description(Some("y".repeat(MAX_DESCRIPTION_CHARS)), &mut problems);
        assert!(
            problems.is_empty(),
            "the documented maximum lengths are accepted"
        );
    }

    #[test]
    fn description_limit_counts_characters() {
        let mut problems = Vec::new();
        check_description(Some("ü".repeat(2000)), &mut problems);
        assert!(problems.is_empty());
        check_description(Some("ü".repeat(2001)), &mut problems);
        assert_eq!(problems.len(), 1);
    }

    #[test]
    fn update_tells_absent_from_null() {
        let body: UpdateTask = serde_json::from_str(r#"{"description": null}"#).unwrap();
        assert!(matches!(body.description, Some(None)));
        assert!(body.title.is_none());
    }
}
