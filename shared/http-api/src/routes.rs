//! The handlers: extract, call the use case, hand its typed outcome to `respond`.

use std::sync::Arc;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::Uri;
use axum::response::{Redirect, Response};
use serde::Deserialize;
use service::{ConnectorService, LinkStart};

use crate::extract::RawRequest;
use crate::respond::{Acknowledged, JsonError, LinkedPage, PageError, RequestError, refuse};

type Service = State<Arc<ConnectorService>>;

/// `?group_id=` of the start link.
#[derive(Deserialize)]
pub(crate) struct StartQuery {
    group_id: Option<String>,
}

/// What the app's consent page sends back.
#[derive(Deserialize)]
pub(crate) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /oauth/{provider}/start?group_id=`: `303` to the app's consent page.
pub(crate) async fn link_start(
    State(service): Service,
    provider: Result<Path<String>, PathRejection>,
    query: Result<Query<StartQuery>, QueryRejection>,
) -> Result<Redirect, PageError> {
    let Path(provider) = provider?;
    let Query(query) = query?;
    match service
        .link_start(&provider, query.group_id.as_deref())
        .await?
    {
        LinkStart::Redirect(url) => Ok(Redirect::to(&url)),
    }
}

/// `GET /oauth/{provider}/callback?code=&state=` (or `?error=`): the linked page.
pub(crate) async fn link_callback(
    State(service): Service,
    provider: Result<Path<String>, PathRejection>,
    query: Result<Query<CallbackQuery>, QueryRejection>,
) -> Result<LinkedPage, PageError> {
    let Path(provider) = provider?;
    let Query(query) = query?;
    let linked = service
        .link_callback(
            &provider,
            query.code.as_deref(),
            query.state.as_deref(),
            query.error.as_deref(),
        )
        .await?;
    Ok(LinkedPage(linked))
}

/// `POST /webhooks/connec/{tenant}`: a Connec! notification.
pub(crate) async fn connec_webhook(
    State(service): Service,
    tenant: Result<Path<String>, PathRejection>,
    request: RawRequest,
) -> Result<Acknowledged, JsonError> {
    let Path(tenant) = tenant?;
    let received = service
        .connec_webhook(&tenant, &request.as_webhook())
        .await?;
    Ok(Acknowledged(received))
}

/// `POST /webhooks/{provider}`: an app's webhook.
pub(crate) async fn app_webhook(
    State(service): Service,
    provider: Result<Path<String>, PathRejection>,
    request: RawRequest,
) -> Result<Acknowledged, JsonError> {
    let Path(provider) = provider?;
    let received = service
        .app_webhook(&provider, &request.as_webhook())
        .await?;
    Ok(Acknowledged(received))
}

/// No route has this path.
pub(crate) async fn not_found(uri: Uri) -> Response {
    refuse(uri.path(), RequestError::NotFound)
}

/// The route does not take this method.
pub(crate) async fn method_not_allowed(uri: Uri) -> Response {
    refuse(uri.path(), RequestError::MethodNotAllowed)
}
