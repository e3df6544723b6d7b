//! The API routes (`/api/v2/{group_id}/{collection}[/{id}]` and `/batch`): dispatch,
//! credentials, and the operations both direct calls and batch ops run.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State as AxState};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use serde_json::{Map, Value};

use super::batch::batch;
use super::errors::{error_response, fault_response, parse_json};
use super::state::State;
use super::upsert::Target;
use super::{ConnecConfig, Inner, JSONAPI, admin};
use crate::common::{ApiError, MAX_BODY, base_url, json_response, lock, query_pairs, set_header};

/// Accepts `{"<collection>": {...}}` or the bare record.
pub(super) fn unwrap_record<'a>(body: &'a Value, coll: &str) -> &'a Value {
    body.get(coll).filter(|v| v.is_object()).unwrap_or(body)
}

pub(super) fn wrap(coll: &str, rec: Value) -> Value {
    let mut m = Map::new();
    m.insert(coll.to_string(), rec);
    Value::Object(m)
}

/// One API operation (used by direct routes and by `/batch`).
pub(super) enum ApiOp<'a> {
    List { q: Vec<(String, String)> },
    Get { id: &'a str },
    Post { body: &'a Value },
    Put { id: &'a str, body: &'a Value },
}

pub(super) fn exec(
    inner: &Inner,
    st: &mut State,
    group: &str,
    coll: &str,
    op: ApiOp<'_>,
    ext: bool,
    base: &str,
) -> Result<(StatusCode, Value), ApiError> {
    match op {
        ApiOp::List { q } => {
            let url = format!("{base}/api/v2/{group}/{coll}");
            st.list(&inner.config, group, coll, &q, ext, &url)
                .map(|v| (StatusCode::OK, v))
        }
        ApiOp::Get { id } => st
            .render(group, coll, id, ext)
            .map(|r| (StatusCode::OK, wrap(coll, r)))
            .ok_or_else(|| ApiError::NotFound(format!("No {coll} record with id {id}"))),
        ApiOp::Post { body } => {
            let (status, id) = st.write(
                inner,
                group,
                coll,
                Target::Upsert,
                unwrap_record(body, coll),
                true,
            )?;
            Ok((
                status,
                wrap(coll, st.render(group, coll, &id, ext).unwrap_or_default()),
            ))
        }
        ApiOp::Put { id, body } => {
            let (_, id) = st.write(
                inner,
                group,
                coll,
                Target::Id(id.into()),
                unwrap_record(body, coll),
                true,
            )?;
            Ok((
                StatusCode::OK,
                wrap(coll, st.render(group, coll, &id, ext).unwrap_or_default()),
            ))
        }
    }
}

pub(super) fn authorized(cfg: &ConnecConfig, headers: &HeaderMap) -> bool {
    let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(b64) = v
        .strip_prefix("Basic ")
        .or_else(|| v.strip_prefix("basic "))
    else {
        return false;
    };
    let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) else {
        return false;
    };
    raw == format!("{}:{}", cfg.api_id, cfg.api_key).as_bytes()
}

pub(super) async fn handle(AxState(inner): AxState<Arc<Inner>>, req: Request<Body>) -> Response {
    let (parts, body) = req.into_parts();
    let method = parts.method.clone();
    let path = parts.uri.path().to_string();
    let q = query_pairs(parts.uri.query());
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return error_response(&ApiError::BadRequest(format!("Unreadable body: {e}"))),
    };
    if let Some(rest) = path.strip_prefix("/_emulator") {
        return admin::admin(&inner, &method, rest, &bytes);
    }
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let route = match (&method, segs.as_slice()) {
        (&Method::POST, ["batch"]) => "POST /batch".to_string(),
        (m, ["api", "v2", _, _]) => format!("{m} /api/v2/{{group_id}}/{{collection}}"),
        (m, ["api", "v2", _, _, _]) => format!("{m} /api/v2/{{group_id}}/{{collection}}/{{id}}"),
        _ => {
            return error_response(&ApiError::NotFound(format!("No route for {method} {path}")));
        }
    };
    let read = method == Method::GET;
    lock(&inner.instruments.stats).count(&route, read);

    if !authorized(&inner.config, &parts.headers) {
        lock(&inner.instruments.stats).rejected += 1;
        return error_response(&ApiError::Unauthorized("Invalid API credentials".into()));
    }
    if let Some(limit) = inner.config.rate_limit
        && let Err(secs) = lock(&inner.instruments.limiter).check(&inner.config.api_id, limit)
    {
        lock(&inner.instruments.stats).rejected += 1;
        let mut r = error_response(&ApiError::Status {
            status: 429,
            message: "Rate limit exceeded".into(),
        });
        set_header(&mut r, "retry-after", secs);
        return r;
    }
    if let Some(kind) = inner.instruments.faults.take_call(method.as_str(), &path) {
        lock(&inner.instruments.stats).rejected += 1;
        return fault_response(kind).await;
    }

    let ext = parts
        .headers
        .get("connec-external-ids")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let base = base_url(&parts.headers);
    let result = match segs.as_slice() {
        ["batch"] => batch(&inner, &bytes, ext, &base),
        ["api", "v2", group, coll, rest @ ..] => {
            let op_body = parse_json(&bytes);
            let op = match (&method, rest) {
                (&Method::GET, []) => Ok(ApiOp::List { q }),
                (&Method::GET, [id]) => Ok(ApiOp::Get { id }),
                (&Method::POST, []) => op_body
                    .as_ref()
                    .map(|body| ApiOp::Post { body })
                    .map_err(Clone::clone),
                (&Method::PUT | &Method::PATCH, [id]) => op_body
                    .as_ref()
                    .map(|body| ApiOp::Put { id, body })
                    .map_err(Clone::clone),
                (&Method::DELETE, _) => Err(ApiError::MethodNotAllowed(
                    "Records cannot be deleted; set status to INACTIVE instead".into(),
                )),
                _ => Err(ApiError::MethodNotAllowed(format!(
                    "{method} is not supported on {path}"
                ))),
            };
            op.and_then(|op| inner.with_state(|st| exec(&inner, st, group, coll, op, ext, &base)))
        }
        _ => Err(ApiError::NotFound(format!("No route for {method} {path}"))),
    };
    match result {
        Ok((status, v)) => json_response(status, JSONAPI, &v),
        Err(e) => error_response(&e),
    }
}
