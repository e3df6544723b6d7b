//! The app's route table ([`routes`]) and the CRM objects API: listing, reading, creating,
//! updating and archiving one object, plus the request context every CRM handler extracts
//! ([`Ctx`]). Search and batches are in [`super::search`] and [`super::batch`], the
//! properties API in [`super::properties`].

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::any;
use serde_json::{Value, json};

use super::auth::Family;
use super::errors::{Outcome, error_response, parse_json, reply};
use super::objects::{HsObject, ObjType, selection, written_selection};
use super::state::Source;
use super::{
    HubSpotEmulator, Inner, JSON, admin, batch, oauth_routes, properties, search, webhook_routes,
};
use crate::common::{
    ApiError, Emulator, Gate, Instruments, PathParams, RawPath, Reads, base_url, json_response,
    lock, no_route, not_supported, otherwise, query_get, query_pairs, query_with, scalar_string,
    unmatched,
};

/// Every route of the app but the shared admin ones. Methods a route does not list answer
/// as the hand-written routing answered them: `405` on the CRM routes (after the gate and the
/// object type check), an unknown route elsewhere.
pub(super) fn routes(inner: &Arc<Inner>) -> Router<Arc<Inner>> {
    let crm = |reads| Gate::new(Family::Crm, reads);
    let by_id = || {
        otherwise(unlisted_method)
            .get(get_one)
            .patch(patch_one)
            .delete(archive_one)
    };
    Router::new()
        .route(
            "/crm/v3/objects/{objectType}",
            crm(Reads::IfGet).all(inner, otherwise(unlisted_method).get(list).post(create)),
        )
        .route(
            "/crm/v3/objects/{objectType}/{objectId}",
            crm(Reads::IfGet).all(inner, by_id()),
        )
        // Methods but `POST` take `search` for an object id, as they always did.
        .route(
            "/crm/v3/objects/{objectType}/search",
            crm(Reads::Always).all(inner, by_id().post(search)),
        )
        .route(
            "/crm/v3/objects/{objectType}/batch/read",
            crm(Reads::Always).all(inner, otherwise(unlisted_method).post(batch_read)),
        )
        .route(
            "/crm/v3/objects/{objectType}/batch/create",
            crm(Reads::Never).all(inner, otherwise(unlisted_method).post(batch_create)),
        )
        .route(
            "/crm/v3/objects/{objectType}/batch/update",
            crm(Reads::Never).all(inner, otherwise(unlisted_method).post(batch_update)),
        )
        .route(
            "/crm/v3/objects/{objectType}/batch/upsert",
            crm(Reads::Never).all(inner, otherwise(unlisted_method).post(batch_upsert)),
        )
        .route(
            "/crm/v3/objects/{objectType}/batch/archive",
            crm(Reads::Never).all(inner, otherwise(unlisted_method).post(batch_archive)),
        )
        .route(
            "/crm/v3/objects/{objectType}/batch/{op}",
            crm(Reads::Never)
                .spelling("op")
                .all(inner, any(unknown_batch_operation)),
        )
        .route(
            "/crm/v3/properties/{objectType}",
            crm(Reads::IfGet).all(
                inner,
                otherwise(properties::unlisted_method)
                    .get(properties::list)
                    .post(properties::create),
            ),
        )
        .route(
            "/crm/v3/properties/{objectType}/{propertyName}",
            crm(Reads::IfGet).all(
                inner,
                otherwise(properties::unlisted_method).get(properties::get),
            ),
        )
        // Only `GET` is the account API; other methods (`HEAD` too) are unknown routes.
        .route(
            "/account-info/v3/details",
            crm(Reads::IfGet)
                .listed(inner, any(unmatched::<Inner>).get(account_info))
                .head(unmatched::<Inner>),
        )
        .merge(oauth_routes::routes())
        .merge(webhook_routes::routes(inner))
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

    /// Unknown `/oauth/...` and `/webhooks/v3/{appId}/...` paths have their own answers.
    fn unmatched(&self, method: &Method, path: &str) -> Response {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        match segments.as_slice() {
            ["oauth", ..] => oauth_routes::no_such_route(),
            ["webhooks", "v3", app, rest @ ..] => error_response(&ApiError::NotFound(format!(
                "No route for {method} /webhooks/v3/{app}/{}",
                rest.join("/")
            ))),
            _ => error_response(&no_route(method, path)),
        }
    }

    /// The scheduled faults too.
    fn clear_faults(&self) {
        lock(&self.scheduled).clear();
        self.instruments.faults.clear();
    }

    fn dump(self: &Arc<Self>) -> Value {
        HubSpotEmulator {
            inner: self.clone(),
        }
        .dump()
    }
}

/// What every CRM handler works with: the emulator, the caller the gate admitted, the object
/// type of the path, the query, and the base URL and path as the client sent them.
///
/// An object type HubSpot does not know is refused here, after the gate: `404`.
pub(super) struct Ctx {
    pub(super) inner: Arc<Inner>,
    pub(super) source: Source,
    pub(super) t: ObjType,
    pub(super) q: Vec<(String, String)>,
    pub(super) base: String,
    pub(super) path: String,
}

impl FromRequestParts<Arc<Inner>> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, inner: &Arc<Inner>) -> Result<Self, Response> {
        let Ok(params) = PathParams::from_request_parts(parts, inner).await;
        let type_seg = params.get("objectType");
        let t = ObjType::parse(type_seg).ok_or_else(|| {
            error_response(&ApiError::NotFound(format!(
                "Unable to infer object type from: {type_seg}"
            )))
        })?;
        let source = parts.extensions.get::<Source>().cloned().ok_or_else(|| {
            error_response(&ApiError::Status {
                status: 500,
                message: "CRM route without its gate".into(),
            })
        })?;
        let Ok(RawPath(path)) = RawPath::from_request_parts(parts, inner).await;
        Ok(Self {
            inner: inner.clone(),
            source,
            t,
            q: query_pairs(parts.uri.query()),
            base: base_url(&parts.headers),
            path,
        })
    }
}

/// The `{objectId}` of the path (`search` on the `/search` route, whose methods but `POST`
/// take it for an id).
struct ObjectId(String);

impl FromRequestParts<Arc<Inner>> for ObjectId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        inner: &Arc<Inner>,
    ) -> Result<Self, Self::Rejection> {
        let Ok(params) = PathParams::from_request_parts(parts, inner).await;
        Ok(Self(match params.get("objectId") {
            "" => "search".to_owned(),
            id => id.to_owned(),
        }))
    }
}

/// Runs `op` on the JSON body.
fn with_body(c: &Ctx, body: &Bytes, op: fn(&Ctx, &Value) -> Outcome) -> Response {
    reply(parse_json(body).and_then(|b| op(c, &b)))
}

async fn list(c: Ctx) -> Response {
    reply(page(&c))
}

async fn create(c: Ctx, body: Bytes) -> Response {
    with_body(&c, &body, create_object)
}

async fn get_one(c: Ctx, ObjectId(id): ObjectId) -> Response {
    reply(find(&c, &id))
}

async fn patch_one(c: Ctx, ObjectId(id): ObjectId, body: Bytes) -> Response {
    reply(parse_json(&body).and_then(|b| update_object(&c, &id, &b)))
}

/// `DELETE /crm/v3/objects/{objectType}/{objectId}`: `204` whether it existed or not.
async fn archive_one(c: Ctx, ObjectId(id): ObjectId) -> Response {
    let id_prop = query_get(&c.q, "idProperty").map(str::to_string);
    c.inner.with_state(c.source.clone(), |st| {
        if let Some(id) = st.resolve(c.t, &id, id_prop.as_deref()) {
            st.archive(c.t, id);
        }
    });
    reply(Ok((StatusCode::NO_CONTENT, None)))
}

async fn search(c: Ctx, body: Bytes) -> Response {
    with_body(&c, &body, search::search)
}

async fn batch_read(c: Ctx, body: Bytes) -> Response {
    with_body(&c, &body, batch::read)
}

async fn batch_create(c: Ctx, body: Bytes) -> Response {
    with_body(&c, &body, batch::create)
}

async fn batch_update(c: Ctx, body: Bytes) -> Response {
    with_body(&c, &body, batch::update)
}

async fn batch_upsert(c: Ctx, body: Bytes) -> Response {
    with_body(&c, &body, batch::upsert)
}

async fn batch_archive(c: Ctx, body: Bytes) -> Response {
    with_body(&c, &body, batch::archive)
}

/// `/batch/{op}` for an `op` HubSpot does not have, whatever the method.
async fn unknown_batch_operation(_: Ctx, params: PathParams) -> Response {
    let op = params.get("op");
    reply(Err(ApiError::NotFound(format!(
        "Unknown batch operation '{op}'"
    ))))
}

/// A method a CRM objects route does not have.
async fn unlisted_method(c: Ctx, method: Method) -> Response {
    reply(Err(not_supported(method, &c.path)))
}

/// `GET /account-info/v3/details`: lets clients learn the portal id (their external-id realm).
async fn account_info(Extension(source): Extension<Source>) -> Response {
    json_response(
        StatusCode::OK,
        JSON,
        &json!({
            "portalId": source.portal,
            "accountType": "STANDARD",
            "timeZone": "Etc/UTC",
            "companyCurrency": "USD",
            "additionalCurrencies": [],
            "utcOffset": "+00:00",
            "utcOffsetMilliseconds": 0,
            "uiDomain": "app.hubspot.com",
            "dataHostingLocation": "na1",
        }),
    )
}

/// `properties` from query params: repeated and/or comma-separated.
fn query_list(q: &[(String, String)], key: &str) -> Vec<String> {
    q.iter()
        .filter(|(k, _)| k == key)
        .flat_map(|(_, v)| v.split(','))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// A list of strings from a JSON body (`properties` of a search or batch read).
pub(super) fn body_list(body: &Value, key: &str) -> Vec<String> {
    body.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(scalar_string).collect())
        .unwrap_or_default()
}

fn wants_assoc(c: &Ctx) -> bool {
    query_list(&c.q, "associations")
        .iter()
        .any(|a| ObjType::parse(a) == Some(ObjType::Companies))
}

/// `GET /crm/v3/objects/{objectType}`: a page of the listing, by id.
fn page(c: &Ctx) -> Outcome {
    let max = c.inner.config.max_list_limit;
    let limit = match query_get(&c.q, "limit") {
        None => 10,
        Some(s) => s
            .trim()
            .parse::<usize>()
            .map_err(|_| ApiError::BadRequest(format!("limit must be an integer, got '{s}'")))?,
    };
    if limit == 0 || limit > max {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {max}, got {limit}"
        )));
    }
    let after = match query_get(&c.q, "after") {
        None | Some("") => 0,
        Some(s) => s
            .trim()
            .parse::<u64>()
            .map_err(|_| ApiError::BadRequest(format!("Invalid paging cursor after='{s}'")))?,
    };
    let archived = query_get(&c.q, "archived").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let names = selection(c.t, &query_list(&c.q, "properties"));
    let assoc = wants_assoc(c);
    let st = c.inner.state_at(c.source.portal);
    let mut page: Vec<&HsObject> = st
        .objs(c.t)
        .into_iter()
        .flat_map(|m| m.range(after..).map(|(_, o)| o))
        .filter(|o| o.archived() == archived)
        .take(limit + 1)
        .collect();
    let next = (page.len() > limit).then(|| page[limit].id);
    page.truncate(limit);
    let results: Vec<Value> = page
        .iter()
        .map(|o| o.render(c.t, Some(&names), assoc))
        .collect();
    // Not `json!`: it would serialize `results` into a copy.
    let mut body = Value::Object(serde_json::Map::from_iter([(
        "results".to_owned(),
        Value::Array(results),
    )]));
    if let Some(n) = next {
        let after = n.to_string();
        body["paging"] = json!({ "next": {
            "after": after,
            "link": format!("{}{}?{}", c.base, c.path, query_with(&c.q, "after", &after)),
        }});
    }
    Ok((StatusCode::OK, Some(body)))
}

/// `GET /crm/v3/objects/{objectType}/{objectId}`.
fn find(c: &Ctx, id: &str) -> Outcome {
    let archived = query_get(&c.q, "archived").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let names = selection(c.t, &query_list(&c.q, "properties"));
    let st = c.inner.state_at(c.source.portal);
    let found = if archived {
        id.parse()
            .ok()
            .and_then(|n| st.obj(c.t, n))
            .filter(|o| o.archived())
    } else {
        st.resolve(c.t, id, query_get(&c.q, "idProperty"))
            .and_then(|n| st.live(c.t, n))
    };
    match found {
        Some(o) => Ok((
            StatusCode::OK,
            Some(o.render(c.t, Some(&names), wants_assoc(c))),
        )),
        None => Err(ApiError::NotFound(format!(
            "Object not found.  objectId are usually numeric. ({id})"
        ))),
    }
}

/// `POST /crm/v3/objects/{objectType}`.
fn create_object(c: &Ctx, body: &Value) -> Outcome {
    let props = body.get("properties").and_then(Value::as_object);
    let names = written_selection(c.t, props);
    c.inner.with_state(c.source.clone(), |st| {
        let p = st.prepare(
            Some(&c.inner.instruments.faults),
            c.t,
            None,
            props,
            body.get("associations"),
        )?;
        let (id, _) = st.commit(c.t, None, p);
        Ok((
            StatusCode::CREATED,
            st.obj(c.t, id).map(|o| o.render(c.t, Some(&names), false)),
        ))
    })
}

/// `PATCH /crm/v3/objects/{objectType}/{objectId}`.
fn update_object(c: &Ctx, id: &str, body: &Value) -> Outcome {
    let props = body.get("properties").and_then(Value::as_object);
    let names = written_selection(c.t, props);
    let id_prop = query_get(&c.q, "idProperty").map(str::to_string);
    c.inner.with_state(c.source.clone(), |st| {
        let oid = st
            .resolve(c.t, id, id_prop.as_deref())
            .filter(|n| st.live(c.t, *n).is_some())
            .ok_or_else(|| {
                ApiError::NotFound(format!("resource not found: {} {id}", c.t.upper()))
            })?;
        let p = st.prepare(
            Some(&c.inner.instruments.faults),
            c.t,
            Some(oid),
            props,
            None,
        )?;
        st.commit(c.t, Some(oid), p);
        Ok((
            StatusCode::OK,
            st.obj(c.t, oid).map(|o| o.render(c.t, Some(&names), false)),
        ))
    })
}
