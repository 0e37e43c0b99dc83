//! What handlers take from a request: the caller, path segments, the JSON body and the query
//! string, each with the error its kind of bad input deserves: 401 without a valid token, 415
//! for a body that is not JSON, 413 over the size limit, 400 for malformed JSON or query
//! syntax, 422 for well-formed input of the wrong shape.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures_util::TryStreamExt;
use serde::de::DeserializeOwned;
use warp::Filter;
use warp::http::HeaderValue;

use super::error::{ApiError, FieldError};
use super::state::AppState;
use crate::auth::AuthError;
use crate::domain::UserId;

/// The app's state, which [`super::Api`] puts in every request's extensions.
pub fn state() -> impl Filter<Extract = (AppState,), Error = warp::Rejection> + Clone {
    warp::ext::get::<AppState>()
}

/// No input, for routes that take nothing from the request.
pub fn nothing() -> impl Filter<Extract = ((),), Error = warp::Rejection> + Clone {
    warp::any().and_then(|| async { Ok::<(), warp::Rejection>(()) })
}

/// The caller, from the `Authorization` header, or a 401. A header that is not visible ASCII
/// (no token is) is a malformed one: 401 `invalid_request`, not a 400.
pub fn user() -> impl Filter<Extract = (UserId,), Error = warp::Rejection> + Clone {
    let authorization = warp::header::value("authorization")
        .map(Some)
        .or(warp::any().map(|| None))
        .unify();
    state()
        .and(authorization)
        .and_then(|state: AppState, header: Option<HeaderValue>| async move {
            let header = match &header {
                None => None,
                Some(value) => Some(
                    value
                        .to_str()
                        .map_err(|_| warp::reject::custom(ApiError::from(AuthError::NotBearer)))?,
                ),
            };
            state
                .auth
                .verify(header)
                .await
                .map_err(|error| warp::reject::custom(ApiError::from(error)))
        })
}

/// Task bodies are a few KiB at most; anything much larger is a mistake or an attack.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Extracts a JSON body as `T`. Works for chunked bodies too: the limit is enforced while
/// reading, so an oversized body is never buffered whole.
pub fn json_body<T: DeserializeOwned + Send>()
-> impl Filter<Extract = (T,), Error = warp::Rejection> + Clone {
    warp::header::optional::<String>("content-type")
        .and(warp::header::optional::<u64>("content-length"))
        .and(warp::body::stream())
        .and_then(
            |content_type: Option<String>, length: Option<u64>, body| async move {
                read_json(content_type.as_deref(), length, body)
                    .await
                    .map_err(warp::reject::custom)
            },
        )
}

async fn read_json<T, S, B>(
    content_type: Option<&str>,
    declared_length: Option<u64>,
    body: S,
) -> Result<T, ApiError>
where
    T: DeserializeOwned,
    S: futures_util::Stream<Item = Result<B, warp::Error>> + Send,
    B: Buf,
{
    if !content_type.is_some_and(is_json) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let too_large = ApiError::PayloadTooLarge {
        limit: MAX_BODY_BYTES,
    };
    if declared_length.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Err(too_large);
    }
    let mut buffer = BytesMut::new();
    let mut body = std::pin::pin!(body);
    while let Some(chunk) = body
        .try_next()
        .await
        .map_err(|error| ApiError::BadRequest(format!("could not read request body: {error}")))?
    {
        if buffer.len() + chunk.remaining() > MAX_BODY_BYTES {
            return Err(too_large);
        }
        buffer.put(chunk);
    }
    parse_json(&buffer.freeze())
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Syntax errors are 400; a document of the wrong shape is 422 naming the field. Bodies are
/// JSON objects: serde's derived structs would also take an array, by position.
pub fn parse_json<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    let first = bytes.iter().find(|byte| !byte.is_ascii_whitespace());
    if first != Some(&b'{') && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() {
        return Err(ApiError::Validation(vec![FieldError::new(
            "body",
            "must be a JSON object",
        )]));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let field = error.path().to_string();
        let inner = error.into_inner();
        // A shape error found before a later syntax error is still malformed JSON.
        let well_formed = serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok();
        if inner.is_data() && well_formed {
            let field = if field == "." {
                "body".to_owned()
            } else {
                field
            };
            ApiError::Validation(vec![FieldError::new(
                field,
                strip_position(&inner.to_string()),
            )])
        } else {
            ApiError::BadRequest(format!("malformed JSON: {inner}"))
        }
    })?;
    deserializer
        .end()
        .map_err(|error| ApiError::BadRequest(format!("malformed JSON: {error}")))?;
    Ok(value)
}

/// serde_json appends " at line 1 column 14", which means nothing to the caller of a 422.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

/// Extracts the query string as `T`; a missing query string is an empty one.
pub fn query<T: DeserializeOwned + Send + 'static>()
-> impl Filter<Extract = (T,), Error = warp::Rejection> + Clone {
    warp::query::raw()
        .or(warp::any().map(String::new))
        .unify()
        .and_then(|raw: String| async move {
            serde_urlencoded::from_str::<T>(&raw).map_err(|error| {
                warp::reject::custom(ApiError::BadRequest(format!(
                    "invalid query string: {error}"
                )))
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        title: String,
    }

    fn parse(text: &str) -> Result<Body, ApiError> {
        parse_json(&Bytes::copy_from_slice(text.as_bytes()))
    }

    #[test]
    fn json_content_types_are_recognised() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/x-www-form-urlencoded"));
    }

    #[test]
    fn syntax_errors_are_bad_requests() {
        assert!(matches!(
            parse("{\"title\": "),
            Err(ApiError::BadRequest(_))
        ));
        assert!(matches!(parse("{} trailing"), Err(ApiError::BadRequest(_))));
        let deep = r#"{"a":"#.repeat(1000) + "1" + &"}".repeat(1000);
        let nested: Result<serde_json::Value, _> = parse_json(&Bytes::from(deep));
        assert!(matches!(nested, Err(ApiError::BadRequest(_))));
    }

    #[test]
    fn a_body_that_is_not_an_object_is_422() {
        for text in ["[]", r#"["t", true]"#, "\"title\"", "5", "null", " [ ] "] {
            match parse(text) {
                Err(ApiError::Validation(errors)) => {
                    assert_eq!(errors[0].field, "body", "{text}");
                    assert_eq!(errors[0].message, "must be a JSON object", "{text}");
                }
                other => panic!("{text}: expected a validation error, got {other:?}"),
            }
        }
        assert!(matches!(parse("[1,"), Err(ApiError::BadRequest(_))));
    }

    #[test]
    fn wrong_types_name_the_field() {
        match parse(r#"{"title": 5}"#) {
            Err(ApiError::Validation(errors)) => {
                assert_eq!(errors[0].field, "title");
                assert!(!errors[0].message.contains("line"), "{}", errors[0].message);
            }
            other => panic!("expected a validation error, got {other:?}"),
        }
        match parse(r#"{"title": "x", "colour": "red"}"#) {
            Err(ApiError::Validation(errors)) => assert!(errors[0].message.contains("colour")),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }
}
