//! The CRM API routes: request dispatch, and the single-object endpoints (list, get, create,
//! update, archive).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State as AxState};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::auth::{Auth, authenticate, expired_response, rate_headers, unauthorized_response};
use super::batch::{batch_archive, batch_create, batch_read, batch_update, batch_upsert};
use super::errors::{error_response, fault_response, parse_json};
use super::objects::{HsObject, ObjType, selection, written_selection};
use super::search::search;
use super::state::Source;
use super::{Inner, JSON, admin, oauth, properties, scheduled, webhooks};
use crate::common::{
    ApiError, MAX_BODY, base_url, empty_response, json_response, lock, query_get, query_pairs,
    query_with, scalar_string, set_header,
};

/// `properties` from query params: repeated and/or comma-separated.
pub(super) fn query_list(q: &[(String, String)], key: &str) -> Vec<String> {
    q.iter()
        .filter(|(k, _)| k == key)
        .flat_map(|(_, v)| v.split(','))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

pub(super) fn body_list(body: &Value, key: &str) -> Vec<String> {
    body.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(scalar_string).collect())
        .unwrap_or_default()
}

pub(super) struct Ctx<'a> {
    pub(super) inner: &'a Inner,
    pub(super) source: Source,
    pub(super) t: ObjType,
    pub(super) q: Vec<(String, String)>,
    pub(super) base: String,
    pub(super) path: String,
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
    if segs.first() == Some(&"oauth") {
        return oauth::handle(&inner, &method, &segs, &q, &parts.headers, &bytes).await;
    }
    if let ["webhooks", "v3", app, rest @ ..] = segs.as_slice() {
        return webhooks::handle(&inner, &method, app, rest, &q, &parts.headers, &bytes);
    }
    // Account details let clients learn the portal id (used as external-id realm).
    let account_info = method == Method::GET && segs == ["account-info", "v3", "details"];
    let mut properties_api = false;
    let (type_seg, rest): (&str, &[&str]) = match segs.as_slice() {
        _ if account_info => ("", &[]),
        ["crm", "v3", "objects", type_seg, rest @ ..] => (type_seg, rest),
        ["crm", "v3", "properties", type_seg, rest @ ..] if rest.len() <= 1 => {
            properties_api = true;
            (type_seg, rest)
        }
        _ => {
            return error_response(&ApiError::NotFound(format!("No route for {method} {path}")));
        }
    };
    let (route, read) = match (&method, rest) {
        _ if account_info => ("GET /account-info/v3/details".to_string(), true),
        (m, []) if properties_api => (
            format!("{m} /crm/v3/properties/{{objectType}}"),
            m == Method::GET,
        ),
        (m, [_]) if properties_api => (
            format!("{m} /crm/v3/properties/{{objectType}}/{{propertyName}}"),
            m == Method::GET,
        ),
        (m, []) => (
            format!("{m} /crm/v3/objects/{{objectType}}"),
            m == Method::GET,
        ),
        (m, ["search"]) => (format!("{m} /crm/v3/objects/{{objectType}}/search"), true),
        (m, ["batch", op]) => (
            format!("{m} /crm/v3/objects/{{objectType}}/batch/{op}"),
            *op == "read",
        ),
        (m, [_]) => (
            format!("{m} /crm/v3/objects/{{objectType}}/{{objectId}}"),
            m == Method::GET,
        ),
        _ => return error_response(&ApiError::NotFound(format!("No route for {method} {path}"))),
    };
    lock(&inner.instruments.stats).count(&route, read);

    let (token, via_oauth, portal) = match authenticate(&inner, &parts.headers) {
        Auth::Valid {
            token,
            oauth,
            portal,
        } => (token, oauth, portal),
        Auth::Expired => {
            lock(&inner.instruments.stats).rejected += 1;
            return expired_response();
        }
        Auth::Missing => {
            lock(&inner.instruments.stats).rejected += 1;
            return unauthorized_response();
        }
    };
    let source = Source {
        portal,
        change_source: "INTEGRATION",
        source_id: via_oauth
            .then(|| inner.config.oauth.as_ref().map(|a| a.app_id.to_string()))
            .flatten(),
    };
    let mut remaining = None;
    if let Some(limit) = inner.config.rate_limit {
        match lock(&inner.instruments.limiter).check(&token, limit) {
            Ok(r) => remaining = Some(r),
            Err(secs) => {
                lock(&inner.instruments.stats).rejected += 1;
                let mut r = json_response(
                    StatusCode::TOO_MANY_REQUESTS,
                    JSON,
                    &json!({
                        "status": "error",
                        "message": "You have reached your ten_secondly_rolling limit.",
                        "errorType": "RATE_LIMIT",
                        "correlationId": uuid::Uuid::new_v4().to_string(),
                        "policyName": "TEN_SECONDLY_ROLLING",
                        "category": "RATE_LIMITS",
                    }),
                );
                rate_headers(&mut r, limit, 0);
                set_header(&mut r, "retry-after", secs);
                return r;
            }
        }
    }
    let scheduled = scheduled::take(&mut lock(&inner.scheduled), false, method.as_str(), &path);
    let mut resp = if let Some(kind) =
        scheduled.or_else(|| inner.instruments.faults.take_call(method.as_str(), &path))
    {
        lock(&inner.instruments.stats).rejected += 1;
        fault_response(kind).await
    } else if account_info {
        json_response(
            StatusCode::OK,
            JSON,
            &json!({
                "portalId": portal,
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
    } else {
        match ObjType::parse(type_seg) {
            None => error_response(&ApiError::NotFound(format!(
                "Unable to infer object type from: {type_seg}"
            ))),
            Some(t) if properties_api => {
                let answer = parse_json(&bytes).and_then(|body| {
                    inner.with_state(source.clone(), |st| {
                        properties::dispatch(st, t, &method, rest, &body)
                    })
                });
                match answer {
                    Ok((status, v)) => json_response(status, JSON, &v),
                    Err(e) => properties::error(&e),
                }
            }
            Some(t) => {
                let ctx = Ctx {
                    inner: &inner,
                    source,
                    t,
                    q,
                    base: base_url(&parts.headers),
                    path: path.clone(),
                };
                match dispatch(&ctx, &method, rest, &bytes) {
                    Ok((status, Some(v))) => json_response(status, JSON, &v),
                    Ok((status, None)) => empty_response(status),
                    Err(e) => error_response(&e),
                }
            }
        }
    };
    // A lost answer: the call was processed, the client sees a failure.
    let lost = scheduled::take(&mut lock(&inner.scheduled), true, method.as_str(), &path);
    if let Some(kind) = lost {
        lock(&inner.instruments.stats).rejected += 1;
        resp = fault_response(kind).await;
    }
    if let (Some(limit), Some(rem)) = (inner.config.rate_limit, remaining) {
        rate_headers(&mut resp, limit, rem);
    }
    resp
}

pub(super) type Outcome = Result<(StatusCode, Option<Value>), ApiError>;

pub(super) fn dispatch(c: &Ctx<'_>, method: &Method, rest: &[&str], bytes: &Bytes) -> Outcome {
    match (method, rest) {
        (&Method::GET, []) => list(c),
        (&Method::POST, []) => create(c, &parse_json(bytes)?),
        (&Method::POST, ["search"]) => search(c, &parse_json(bytes)?),
        (&Method::POST, ["batch", "read"]) => batch_read(c, &parse_json(bytes)?),
        (&Method::POST, ["batch", "create"]) => batch_create(c, &parse_json(bytes)?),
        (&Method::POST, ["batch", "update"]) => batch_update(c, &parse_json(bytes)?),
        (&Method::POST, ["batch", "upsert"]) => batch_upsert(c, &parse_json(bytes)?),
        (&Method::POST, ["batch", "archive"]) => batch_archive(c, &parse_json(bytes)?),
        (_, ["batch", op])
            if !matches!(*op, "read" | "create" | "update" | "upsert" | "archive") =>
        {
            Err(ApiError::NotFound(format!(
                "Unknown batch operation '{op}'"
            )))
        }
        (&Method::GET, [id]) => get_one(c, id),
        (&Method::PATCH, [id]) => patch_one(c, id, &parse_json(bytes)?),
        (&Method::DELETE, [id]) => {
            let id_prop = query_get(&c.q, "idProperty").map(str::to_string);
            c.inner.with_state(c.source.clone(), |st| {
                if let Some(id) = st.resolve(c.t, id, id_prop.as_deref()) {
                    st.archive(c.t, id);
                }
            });
            Ok((StatusCode::NO_CONTENT, None))
        }
        _ => Err(ApiError::MethodNotAllowed(format!(
            "{method} is not supported on {}",
            c.path
        ))),
    }
}

pub(super) fn wants_assoc(c: &Ctx<'_>) -> bool {
    query_list(&c.q, "associations")
        .iter()
        .any(|a| ObjType::parse(a) == Some(ObjType::Companies))
}

pub(super) fn list(c: &Ctx<'_>) -> Outcome {
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
    let mut body = json!({ "results": page.iter().map(|o| o.render(c.t, Some(&names), assoc)).collect::<Vec<_>>() });
    if let Some(n) = next {
        let after = n.to_string();
        body["paging"] = json!({ "next": {
            "after": after,
            "link": format!("{}{}?{}", c.base, c.path, query_with(&c.q, "after", &after)),
        }});
    }
    Ok((StatusCode::OK, Some(body)))
}

pub(super) fn get_one(c: &Ctx<'_>, id: &str) -> Outcome {
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

pub(super) fn create(c: &Ctx<'_>, body: &Value) -> Outcome {
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

pub(super) fn patch_one(c: &Ctx<'_>, id: &str, body: &Value) -> Outcome {
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
