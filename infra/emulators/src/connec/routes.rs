//! The API routes ([`routes`]): `/api/v2/{group_id}/{collection}[/{id}]` and `/batch`, the
//! gate they pass (HTTP Basic `api_id:api_key`, one rate limit, call faults), and the
//! operations direct calls and batch ops both run ([`exec`]).

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, State as AxState};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Map, Value};

use super::errors::{Outcome, cannot_delete, error_response, parse_json, reply};
use super::state::State;
use super::upsert::Target;
use super::{ConnecConfig, ConnecEmulator, Inner, JSON, JSONAPI, admin, batch};
use crate::common::{
    ApiError, Emulator, Gate, Gatekeeper, Instruments, PathParams, QueryPairs, RateLimit, RawPath,
    Reads, base_url, basic_credentials, not_supported, otherwise, set_header, unmatched,
};

/// Every route of the app but the shared admin ones. Other methods on the record routes are
/// `405` (after the gate); on `/batch` they are unknown routes.
pub(super) fn routes(inner: &Arc<Inner>) -> Router<Arc<Inner>> {
    let api = Gate::new((), Reads::IfGet);
    Router::new()
        .route(
            "/api/v2/{group_id}/{collection}",
            api.all(
                inner,
                otherwise(unlisted_method)
                    .get(list)
                    .post(create)
                    .delete(no_deletes),
            ),
        )
        .route(
            "/api/v2/{group_id}/{collection}/{id}",
            api.all(
                inner,
                otherwise(unlisted_method)
                    .get(get_one)
                    .put(update)
                    .patch(update)
                    .delete(no_deletes),
            ),
        )
        .route(
            "/batch",
            // A batch of `get` ops only is one read.
            Gate::new((), Reads::ByBody(batch::only_reads))
                .listed(inner, any(unmatched::<Inner>).post(batch_call)),
        )
        .merge(admin::routes())
}

impl Emulator for Inner {
    const API_JSON: &'static str = JSONAPI;
    const ADMIN_JSON: &'static str = JSON;

    fn instruments(&self) -> &Instruments {
        &self.instruments
    }

    fn error_response(e: &ApiError) -> Response {
        error_response(e)
    }

    fn dump(self: &Arc<Self>) -> Value {
        ConnecEmulator {
            inner: self.clone(),
        }
        .dump()
    }
}

/// The gate refused the credentials.
pub(super) struct BadCredentials;

impl IntoResponse for BadCredentials {
    fn into_response(self) -> Response {
        error_response(&ApiError::Unauthorized("Invalid API credentials".into()))
    }
}

impl Gatekeeper for Inner {
    type Family = ();
    type Refusal = BadCredentials;

    /// One credential, one rate limit.
    fn admit(&self, _: (), parts: &mut Parts) -> Result<Option<String>, BadCredentials> {
        if authorized(&self.config, &parts.headers) {
            Ok(Some(self.config.api_id.clone()))
        } else {
            Err(BadCredentials)
        }
    }

    fn rate_limit(&self) -> Option<RateLimit> {
        self.config.rate_limit
    }

    fn too_many_requests(_: RateLimit, retry_after_secs: u64) -> Response {
        let mut r = error_response(&ApiError::Status {
            status: 429,
            message: "Rate limit exceeded".into(),
        });
        set_header(&mut r, "retry-after", retry_after_secs);
        r
    }
}

/// What a record handler works with: the emulator, the group and collection of the path,
/// whether the caller asked for the `CONNEC-EXTERNAL-IDS` shape, and the base URL of paging
/// links.
struct Call {
    inner: Arc<Inner>,
    group: String,
    coll: String,
    ext: bool,
    base: String,
}

impl FromRequestParts<Arc<Inner>> for Call {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, inner: &Arc<Inner>) -> Result<Self, Infallible> {
        let Ok(params) = PathParams::from_request_parts(parts, inner).await;
        Ok(Self {
            inner: inner.clone(),
            group: params.get("group_id").to_owned(),
            coll: params.get("collection").to_owned(),
            ext: wants_external_ids(&parts.headers),
            base: base_url(&parts.headers),
        })
    }
}

impl Call {
    /// Runs `op` under the state lock and answers it.
    fn run(&self, op: ApiOp<'_>) -> Response {
        reply(self.inner.with_state(|st| {
            exec(
                &self.inner,
                st,
                &self.group,
                &self.coll,
                op,
                self.ext,
                &self.base,
            )
        }))
    }
}

/// `CONNEC-EXTERNAL-IDS: true`.
fn wants_external_ids(headers: &HeaderMap) -> bool {
    headers
        .get("connec-external-ids")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// `GET /api/v2/{group_id}/{collection}`.
async fn list(c: Call, QueryPairs(q): QueryPairs) -> Response {
    c.run(ApiOp::List { q })
}

/// `GET /api/v2/{group_id}/{collection}/{id}`.
async fn get_one(c: Call, params: PathParams) -> Response {
    c.run(ApiOp::Get {
        id: params.get("id"),
    })
}

/// `POST /api/v2/{group_id}/{collection}`: an upsert.
async fn create(c: Call, body: Bytes) -> Response {
    match parse_json(&body) {
        Ok(body) => c.run(ApiOp::Post { body: &body }),
        Err(e) => error_response(&e),
    }
}

/// `PUT` or `PATCH /api/v2/{group_id}/{collection}/{id}`.
async fn update(c: Call, params: PathParams, body: Bytes) -> Response {
    match parse_json(&body) {
        Ok(body) => c.run(ApiOp::Put {
            id: params.get("id"),
            body: &body,
        }),
        Err(e) => error_response(&e),
    }
}

/// `DELETE` on a record route: Connec! deletes nothing.
async fn no_deletes() -> Response {
    error_response(&cannot_delete())
}

/// Any other method on a record route.
async fn unlisted_method(method: Method, RawPath(path): RawPath) -> Response {
    error_response(&not_supported(method, &path))
}

/// `POST /batch`.
async fn batch_call(
    AxState(inner): AxState<Arc<Inner>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (ext, base) = (wants_external_ids(&headers), base_url(&headers));
    reply(batch::batch(&inner, &body, ext, &base))
}

/// Accepts `{"<collection>": {...}}` or the bare record.
fn unwrap_record<'a>(body: &'a Value, coll: &str) -> &'a Value {
    body.get(coll).filter(|v| v.is_object()).unwrap_or(body)
}

/// `{"<collection>": record}`.
fn wrap(coll: &str, rec: Value) -> Value {
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
) -> Outcome {
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

/// HTTP Basic with the configured `api_id:api_key`.
fn authorized(cfg: &ConnecConfig, headers: &HeaderMap) -> bool {
    basic_credentials(headers)
        .is_some_and(|raw| raw == format!("{}:{}", cfg.api_id, cfg.api_key).as_bytes())
}
