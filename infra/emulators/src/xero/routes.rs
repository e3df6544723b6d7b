//! The route table ([`routes`]) and the Accounting API handlers under `/api.xro/2.0`:
//! lists, one record, writes (with `Idempotency-Key` and `summarizeErrors`), and the hard
//! delete of items. Every answer is Xero's envelope (`Id`, `Status`, `ProviderName`,
//! `DateTimeUTC`, the collection, and `pagination` when paged).
//!
//! `Idempotency-Key` (at most 128 characters, else `400`): a write with a key seen before in
//! the same tenant within 24 hours replays the first answer, status and body, and changes
//! nothing; the same key with another method, path, query or body is refused (`400`), as the
//! key names one request.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::Response;
use axum::routing::MethodRouter;
use serde_json::{Value, json};

use super::auth::{Caller, Family};
use super::clock::{ms_date_bare, parse_instant};
use super::errors::{error_response, not_found, validation_exception};
use super::state::{Kind, Stored, Tx};
use super::write::{Verb, Written, elements, write_all};
use super::{Inner, JSON, XeroEmulator, admin, limits, oauth_routes, organisation, query};
use crate::common::{
    ApiError, Emulator, Gate, Instruments, PathParams, Reads, json_response, lock, not_supported,
    otherwise, query_get, query_pairs,
};

/// How long an idempotency key is remembered.
const IDEMPOTENCY_TTL_MS: i64 = 86_400_000;

/// Every route but the shared admin ones.
pub(super) fn routes(inner: &Arc<Inner>) -> Router<Arc<Inner>> {
    let accounting = |m: MethodRouter<Arc<Inner>>| {
        Gate::new(Family::Accounting, Reads::IfGet)
            .spelling("collection")
            .all(
                inner,
                m.layer(from_fn_with_state(inner.clone(), limits::enforce)),
            )
    };
    let identity =
        |m: MethodRouter<Arc<Inner>>| Gate::new(Family::Identity, Reads::IfGet).all(inner, m);
    let connections = || identity(otherwise(unlisted).get(oauth_routes::connections));
    let connection = || identity(otherwise(unlisted).delete(oauth_routes::delete_connection));
    Router::new()
        .route(
            "/api.xro/2.0/{collection}",
            accounting(otherwise(unlisted).get(list).put(put_many).post(post_many)),
        )
        .route(
            "/api.xro/2.0/Organisation",
            accounting(otherwise(unlisted).get(organisation::organisation)),
        )
        .route(
            "/api.xro/2.0/Accounts",
            accounting(otherwise(unlisted).get(organisation::accounts)),
        )
        .route(
            "/api.xro/2.0/{collection}/{id}",
            accounting(
                otherwise(unlisted)
                    .get(get_one)
                    .post(post_one)
                    .delete(delete_one),
            ),
        )
        .route("/connections", connections())
        .route("/Connections", connections())
        .route("/connections/{id}", connection())
        .route("/Connections/{id}", connection())
        .merge(oauth_routes::routes())
        .merge(admin::routes())
}

impl Emulator for Inner {
    const API_JSON: &'static str = JSON;
    const ADMIN_JSON: &'static str = JSON;

    fn instruments(&self) -> &Instruments {
        &self.instruments
    }

    fn error_response(e: &ApiError) -> Response {
        error_response(e)
    }

    fn dump(self: &Arc<Self>) -> Value {
        XeroEmulator {
            inner: self.clone(),
        }
        .dump()
    }
}

async fn unlisted(method: Method, raw: crate::common::RawPath) -> Response {
    error_response(&not_supported(method, &raw.0))
}

/// What an Accounting handler works with.
struct Ctx {
    inner: Arc<Inner>,
    tenant_id: String,
    kind: Kind,
    q: Vec<(String, String)>,
    headers: HeaderMap,
    /// `METHOD path?query`, for idempotency fingerprints.
    request_line: String,
}

impl FromRequestParts<Arc<Inner>> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, inner: &Arc<Inner>) -> Result<Self, Response> {
        let Ok(params) = PathParams::from_request_parts(parts, inner).await;
        let kind =
            Kind::parse(params.get("collection")).ok_or_else(|| error_response(&not_found()))?;
        let caller = parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            error_response(&ApiError::Status {
                status: 500,
                message: "Accounting route without its gate".into(),
            })
        })?;
        Ok(Self {
            inner: inner.clone(),
            tenant_id: caller.tenant_id,
            kind,
            q: query_pairs(parts.uri.query()),
            headers: parts.headers.clone(),
            request_line: format!(
                "{} {}?{}",
                parts.method,
                parts.uri.path().to_ascii_lowercase(),
                parts.uri.query().unwrap_or_default()
            ),
        })
    }
}

impl Ctx {
    /// Xero's envelope around `records`.
    fn envelope(&self, records: Vec<Value>, pagination: Option<Value>) -> Value {
        envelope(&self.inner, self.kind.collection(), records, pagination)
    }

    fn since(&self) -> Result<Option<i64>, ApiError> {
        match self
            .headers
            .get("if-modified-since")
            .and_then(|v| v.to_str().ok())
        {
            None => Ok(None),
            Some(s) => parse_instant(s).map(Some).ok_or_else(|| {
                ApiError::BadRequest(format!("If-Modified-Since '{s}' is not a valid date"))
            }),
        }
    }
}

/// Xero's envelope around `records` under `key`.
pub(super) fn envelope(
    inner: &Inner,
    key: &str,
    records: Vec<Value>,
    pagination: Option<Value>,
) -> Value {
    let mut v = json!({
        "Id": uuid::Uuid::new_v4().to_string(),
        "Status": "OK",
        "ProviderName": inner.config.app.name,
        "DateTimeUTC": ms_date_bare(inner.clock.peek_ms()),
    });
    if let Some(p) = pagination {
        v["pagination"] = p;
    }
    v[key] = Value::Array(records);
    v
}

fn ok(v: &Value) -> Response {
    json_response(StatusCode::OK, JSON, v)
}

/// `GET /api.xro/2.0/{collection}`.
async fn list(ctx: Ctx) -> Response {
    let since = match ctx.since() {
        Ok(s) => s,
        Err(e) => return error_response(&e),
    };
    let page = {
        let st = lock(&ctx.inner.state);
        let Some(t) = st.tenant(&ctx.tenant_id) else {
            return error_response(&not_found());
        };
        query::list(t, ctx.kind, &ctx.q, since, ctx.inner.config.max_page_size)
    };
    match page {
        Ok(p) => ok(&ctx.envelope(p.records, p.pagination)),
        Err(e) => error_response(&e),
    }
}

/// `GET /api.xro/2.0/{collection}/{id}` (contacts also by `ContactNumber`, items by `Code`).
async fn get_one(ctx: Ctx, params: PathParams) -> Response {
    let id = params.get("id");
    let found = {
        let st = lock(&ctx.inner.state);
        st.tenant(&ctx.tenant_id).and_then(|t| {
            let by_id = t.get(ctx.kind, id);
            let alt = || {
                let key = match ctx.kind {
                    Kind::Contacts => "ContactNumber",
                    Kind::Items => "Code",
                    Kind::Invoices => "InvoiceNumber",
                    Kind::Payments => return None,
                };
                t.all(ctx.kind)
                    .values()
                    .find(|r| r.str(key).is_some_and(|v| v.eq_ignore_ascii_case(id)))
            };
            by_id.or_else(alt).map(|r| t.render(ctx.kind, r))
        })
    };
    match found {
        Some(v) => ok(&ctx.envelope(vec![v], None)),
        None => error_response(&not_found()),
    }
}

async fn put_many(ctx: Ctx, body: Bytes) -> Response {
    write(ctx, Verb::Put, None, body).await
}

async fn post_many(ctx: Ctx, body: Bytes) -> Response {
    write(ctx, Verb::Post, None, body).await
}

async fn post_one(ctx: Ctx, params: PathParams, body: Bytes) -> Response {
    write(ctx, Verb::Post, Some(params.get("id").to_owned()), body).await
}

/// `DELETE /api.xro/2.0/Items/{id}`: a hard delete; other collections have none.
async fn delete_one(
    ctx: Ctx,
    params: PathParams,
    method: Method,
    raw: crate::common::RawPath,
) -> Response {
    if ctx.kind != Kind::Items {
        return error_response(&not_supported(method, &raw.0));
    }
    let removed = {
        let mut st = lock(&ctx.inner.state);
        st.tenant_mut(&ctx.tenant_id).is_some_and(|t| {
            let id = t
                .get(Kind::Items, params.get("id"))
                .and_then(|r| r.str("ItemID"))
                .map(str::to_owned);
            let mut tx = Tx::new(t, &ctx.inner.clock);
            id.is_some_and(|id| tx.remove(Kind::Items, &id))
        })
    };
    if removed {
        crate::common::empty_response(StatusCode::NO_CONTENT)
    } else {
        error_response(&not_found())
    }
}

/// A write request (see the [module docs](self)).
async fn write(ctx: Ctx, verb: Verb, path_id: Option<String>, body: Bytes) -> Response {
    let key = ctx
        .headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if key.as_ref().is_some_and(|k| k.chars().count() > 128) {
        return error_response(&ApiError::BadRequest(
            "The Idempotency-Key header must be 128 characters or fewer".into(),
        ));
    }
    let parsed: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return error_response(&ApiError::BadRequest(format!(
                "The request body is not valid JSON: {e}"
            )));
        }
    };
    let els = match elements(ctx.kind, &parsed) {
        Ok(els) => els,
        Err(m) => return error_response(&ApiError::BadRequest(m)),
    };
    let summarize =
        !query_get(&ctx.q, "summarizeErrors").is_some_and(|v| v.eq_ignore_ascii_case("false"));
    let fingerprint = format!("{}\n{}", ctx.request_line, String::from_utf8_lossy(&body));
    let inner = &ctx.inner;
    let (status, answer, changes) = {
        let mut st = lock(&inner.state);
        let Some(t) = st.tenant_mut(&ctx.tenant_id) else {
            return error_response(&not_found());
        };
        let now = inner.clock.peek_ms();
        if let Some(k) = &key {
            t.idempotency.retain(|_, s| s.expires_ms > now);
            if let Some(s) = t.idempotency.get(k) {
                if s.fingerprint != fingerprint {
                    return error_response(&ApiError::BadRequest(
                        "The Idempotency-Key has already been used for a different request".into(),
                    ));
                }
                let status = StatusCode::from_u16(s.status).unwrap_or(StatusCode::OK);
                return json_response(status, JSON, &s.body);
            }
        }
        let mut tx = Tx::new(t, &inner.clock);
        let written = write_all(
            &mut tx,
            ctx.kind,
            verb,
            &els,
            path_id.as_deref(),
            summarize,
            &inner.instruments.faults,
        );
        let changes = std::mem::take(&mut tx.changes);
        let (status, answer) = match written {
            Written::Ok(records) => (StatusCode::OK, ctx.envelope(records, None)),
            Written::Refused(elements) => (StatusCode::BAD_REQUEST, validation_exception(elements)),
        };
        if let Some(k) = key {
            t.idempotency.insert(
                k,
                Stored {
                    fingerprint,
                    status: status.as_u16(),
                    body: answer.clone(),
                    expires_ms: now + IDEMPOTENCY_TTL_MS,
                },
            );
        }
        (status, answer, changes)
    };
    inner.publish(&changes);
    json_response(status, JSON, &answer)
}
