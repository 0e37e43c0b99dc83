//! ApiError: every failure the HTTP edge reports, mapped to a status and a JSON body here and
//! nowhere else.
//!
//! The body is always `{"error": {"code": ..., "message": ...}}`, plus `details` for 422.
//! Internal causes (SQL errors, bugs) are logged with the request id and never sent.

use serde::Serialize;
use utoipa::ToSchema;
use warp::Reply;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;

use crate::auth::AuthError;
use crate::db::DbError;

/// Seconds a client should wait before retrying when the database is down; a pod restarting
/// Postgres takes a few seconds.
const RETRY_AFTER_UNAVAILABLE: u32 = 5;
/// Seconds a client should wait before retrying when the pool was busy: usually a burst.
const RETRY_AFTER_BUSY: u32 = 1;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(AuthError),
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("content type must be application/json")]
    UnsupportedMediaType,
    #[error("request failed validation")]
    Validation(Vec<FieldError>),
    /// `cause` is for the log only.
    #[error("{message}")]
    Unavailable {
        message: &'static str,
        retry_after: u32,
        cause: String,
    },
    /// The string is for the log only.
    #[error("internal error")]
    Internal(String),
}

impl warp::reject::Reject for ApiError {}

/// One invalid field of a request, in a 422 response.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field's path in the request, e.g. `title` or `limit`.
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `bad_request`, `unauthorized`, `not_found`,
    /// `method_not_allowed`, `payload_too_large`, `unsupported_media_type`, `validation_failed`,
    /// `service_unavailable`, `internal_error`.
    #[schema(example = "validation_failed")]
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Vec<FieldError>>,
}

/// Why a request failed, attached to its error response so the request's log line can say it
/// (a 5xx's internal cause, a 401's reason); never sent to the client.
#[derive(Debug, Clone)]
pub struct LoggedCause(pub String);

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::Validation(_) => "validation_failed",
            ApiError::Unavailable { .. } => "service_unavailable",
            ApiError::Internal(_) => "internal_error",
        }
    }

    pub fn into_response(self) -> Response {
        let status = self.status();
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: self.to_string(),
                details: match &self {
                    ApiError::Validation(details) => Some(details.clone()),
                    _ => None,
                },
            },
        };
        let mut response =
            warp::reply::with_status(warp::reply::json(&body), status).into_response();
        let (header, cause) = match &self {
            ApiError::Unauthorized(reason) => {
                let challenge = match reason.rfc6750_code() {
                    Some(code) => format!(
                        r#"Bearer realm="todo-chatbot", error="{code}", error_description="{reason}""#
                    ),
                    None => r#"Bearer realm="todo-chatbot""#.to_owned(),
                };
                (
                    HeaderValue::from_str(&challenge)
                        .ok()
                        .map(|value| (header::WWW_AUTHENTICATE, value)),
                    Some(reason.to_string()),
                )
            }
            ApiError::Unavailable {
                retry_after, cause, ..
            } => (
                Some((header::RETRY_AFTER, HeaderValue::from(*retry_after))),
                Some(cause.clone()),
            ),
            ApiError::Internal(cause) => (None, Some(cause.clone())),
            _ => (None, None),
        };
        if let Some((name, value)) = header {
            response.headers_mut().insert(name, value);
        }
        if let Some(cause) = cause {
            response.extensions_mut().insert(LoggedCause(cause));
        }
        response
    }
}

impl ApiError {
    /// What a route's extractors rejected with, as the error it is.
    pub fn from_rejection(rejection: &warp::Rejection) -> ApiError {
        use warp::reject;
        if let Some(error) = rejection.find::<ApiError>() {
            error.clone()
        } else if let Some(error) = rejection.find::<reject::InvalidHeader>() {
            ApiError::BadRequest(error.to_string())
        } else if let Some(error) = rejection.find::<reject::InvalidQuery>() {
            ApiError::BadRequest(error.to_string())
        } else if rejection.find::<reject::UnsupportedMediaType>().is_some() {
            ApiError::UnsupportedMediaType
        } else {
            ApiError::Internal(format!("unhandled rejection: {rejection:?}"))
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> ApiError {
        match error {
            AuthError::KeysUnavailable { retry_after, cause } => ApiError::Unavailable {
                message: "the token's signing keys cannot be fetched from Better Auth right now; retry later",
                retry_after,
                cause,
            },
            error => ApiError::Unauthorized(error),
        }
    }
}

impl From<DbError> for ApiError {
    fn from(error: DbError) -> ApiError {
        match error {
            DbError::Unavailable(_) => ApiError::Unavailable {
                message: "the database is unavailable; retry later",
                retry_after: RETRY_AFTER_UNAVAILABLE,
                cause: error.to_string(),
            },
            DbError::Busy(_) => ApiError::Unavailable {
                message: "the service is busy; retry later",
                retry_after: RETRY_AFTER_BUSY,
                cause: error.to_string(),
            },
            // DbError's own text carries the server's message and SQLSTATE, for the log line.
            DbError::Query(_) => ApiError::Internal(error.to_string()),
        }
    }
}
