//! The JSON API of the connector's page, for the page itself (session cookie; changes carry the
//! `x-csrf-token` header) and for the hub and scripts (HTTP Basic with the tenant's API id and
//! key). Every route names its group; a session may act for its own group only.
//!
//! | method and path (under `/api/v1/groups/{group}`) | does |
//! |---|---|
//! | `GET` | every app: link state, entity directions, historical data, last run |
//! | `PUT /apps/{app}/entities/{entity}` `{"to_hub":true,"to_app":false}` | switches directions |
//! | `PUT /apps/{app}/historical-data` `{"on":true}` | historical data on (full sync queued) or off |
//! | `POST /apps/{app}/sync` | queues a sync (`202`) |
//! | `GET /apps/{app}/runs` | the newest runs, with counts per entity and direction |
//! | `GET /apps/{app}/failures` | failed and parked records, with their errors |
//! | `POST /apps/{app}/retry` `{"entity":"people","source":"hub","id":"..."}` | retries one record now |
//! | `GET /apps/{app}/idmaps?q=` | id-maps by name or id |
//! | `POST /apps/{app}/unlink` `{"purge":false}` | unlinks (revokes, deletes the tokens) |

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use service::ConnectorService;
use sync_core::domain::{DirectionFlags, GroupId};

use crate::auth::ApiCaller;
use crate::respond::{ApiError, RequestError};

type Service = State<Arc<ConnectorService>>;
type Caller = Result<ApiCaller, ApiError>;
type Answer = Result<Response, ApiError>;

fn allowed(caller: Caller, group: &str) -> Result<GroupId, ApiError> {
    let caller = caller?;
    let group = GroupId::parse(group).map_err(|_| ApiError::Request(RequestError::InvalidPath))?;
    caller.may_act_for(group.as_str())?;
    Ok(group)
}

fn ok<T: serde::Serialize>(value: T) -> Answer {
    Ok(Json(value).into_response())
}

fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(b)| b)
        .map_err(|_| ApiError::Request(RequestError::UnreadableBody))
}

/// `GET /api/v1/groups/{group}`.
pub(crate) async fn group(
    State(service): Service,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Answer {
    let Path(group) = path?;
    let group = allowed(caller, &group)?;
    ok(service.group_view(&group).await?)
}

/// `{"to_hub": bool, "to_app": bool}`.
#[derive(Deserialize)]
pub(crate) struct Directions {
    to_hub: bool,
    to_app: bool,
}

/// `PUT .../apps/{app}/entities/{entity}`.
pub(crate) async fn set_directions(
    State(service): Service,
    caller: Caller,
    path: Result<Path<(String, String, String)>, PathRejection>,
    json: Result<Json<Directions>, JsonRejection>,
) -> Answer {
    let Path((group, app, entity)) = path?;
    let group = allowed(caller, &group)?;
    let d = body(json)?;
    let flags = DirectionFlags {
        to_hub: d.to_hub,
        to_app: d.to_app,
    };
    ok(service.set_directions(&group, &app, &entity, flags).await?)
}

/// `{"on": bool}`.
#[derive(Deserialize)]
pub(crate) struct Switch {
    on: bool,
}

/// `PUT .../apps/{app}/historical-data`.
pub(crate) async fn set_historical(
    State(service): Service,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
    json: Result<Json<Switch>, JsonRejection>,
) -> Answer {
    let Path((group, app)) = path?;
    let group = allowed(caller, &group)?;
    let on = body(json)?.on;
    let on = service.set_historical_data(&group, &app, on).await?;
    ok(json!({ "historical_data": on, "full_sync_queued": on }))
}

/// `POST .../apps/{app}/sync`.
pub(crate) async fn sync_now(
    State(service): Service,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Answer {
    let Path((group, app)) = path?;
    let group = allowed(caller, &group)?;
    service.sync_now(&group, &app).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "queued": true }))).into_response())
}

/// `GET .../apps/{app}/runs`.
pub(crate) async fn runs(
    State(service): Service,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Answer {
    let Path((group, app)) = path?;
    let group = allowed(caller, &group)?;
    ok(service.runs(&group, &app).await?)
}

/// `GET .../apps/{app}/failures`.
pub(crate) async fn failures(
    State(service): Service,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Answer {
    let Path((group, app)) = path?;
    let group = allowed(caller, &group)?;
    ok(service.failures(&group, &app).await?)
}

/// `{"entity": "...", "source": "hub"|"app", "id": "..."}`.
#[derive(Deserialize)]
pub(crate) struct RetryBody {
    entity: String,
    source: String,
    id: String,
}

/// `POST .../apps/{app}/retry`.
pub(crate) async fn retry(
    State(service): Service,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
    json: Result<Json<RetryBody>, JsonRejection>,
) -> Answer {
    let Path((group, app)) = path?;
    let group = allowed(caller, &group)?;
    let r = body(json)?;
    let source = crate::console::parse_side(Some(&r.source))
        .map_err(|_| ApiError::Request(RequestError::UnreadableBody))?;
    ok(service
        .retry(&group, &app, &r.entity, source, &r.id)
        .await?)
}

/// `?q=`.
#[derive(Deserialize)]
pub(crate) struct SearchQuery {
    q: Option<String>,
}

/// `GET .../apps/{app}/idmaps?q=`.
pub(crate) async fn idmaps(
    State(service): Service,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
    query: Result<Query<SearchQuery>, QueryRejection>,
) -> Answer {
    let Path((group, app)) = path?;
    let group = allowed(caller, &group)?;
    let Query(query) = query?;
    ok(service
        .search(&group, &app, query.q.as_deref().unwrap_or_default())
        .await?)
}

/// `{"purge": bool}` (optional).
#[derive(Deserialize, Default)]
pub(crate) struct UnlinkBody {
    #[serde(default)]
    purge: bool,
}

/// `POST .../apps/{app}/unlink`.
pub(crate) async fn unlink(
    State(service): Service,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
    json: Result<Json<UnlinkBody>, JsonRejection>,
) -> Answer {
    let Path((group, app)) = path?;
    let group = allowed(caller, &group)?;
    let purge = match json {
        Ok(Json(b)) => b.purge,
        Err(JsonRejection::MissingJsonContentType(_)) => false,
        Err(_) => return Err(ApiError::Request(RequestError::UnreadableBody)),
    };
    ok(service.unlink(&group, &app, purge).await?)
}
