//! The handlers: extract, call the use case, hand its typed outcome to `respond`.

use std::sync::Arc;

use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use service::{AccessError, ConnectorService, LinkError, LinkStart};

use crate::auth::{PageSession, binding_cookie_name, cookie, set_cookie};
use crate::console::{Page, screens};

use crate::extract::RawRequest;
use crate::respond::{Acknowledged, JsonError, LinkedPage, PageError, RequestError, refuse};

type Service = State<Arc<ConnectorService>>;

/// What the app's consent page sends back.
#[derive(Deserialize)]
pub(crate) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /oauth/{provider}/start`: with a session, a confirmation page naming the group and the
/// app; without one, `401` and how to get a launch link.
pub(crate) async fn link_confirm(
    State(service): Service,
    provider: Result<Path<String>, PathRejection>,
    session: Result<PageSession, PageError>,
) -> Result<Page, PageError> {
    let Path(provider) = provider?;
    let PageSession(session) = session?;
    let Some(app) = service
        .apps()
        .get(&provider)
        .filter(|_| service.links_by_oauth(&provider))
    else {
        return Err(PageError::Request(RequestError::NotFound));
    };
    Ok(Page(screens::link_confirm(
        &session,
        &provider,
        app.display_name(),
    )))
}

/// The confirmation's form.
#[derive(Deserialize)]
pub(crate) struct StartForm {
    csrf: Option<String>,
}

/// `POST /oauth/{provider}/start` (the confirmation, with the session's CSRF token): `303` to
/// the app's consent page, with a cookie that binds the OAuth `state` to this browser.
pub(crate) async fn link_start(
    State(service): Service,
    provider: Result<Path<String>, PathRejection>,
    session: Result<PageSession, PageError>,
    form: Result<Form<StartForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Path(provider) = provider?;
    let PageSession(session) = session?;
    let csrf = form
        .map_err(|_| PageError::Request(RequestError::UnreadableBody))?
        .0
        .csrf
        .unwrap_or_default();
    if !session.csrf_matches(&csrf) {
        return Err(PageError::Access(AccessError::Csrf));
    }
    match service.link_start(&provider, &session.group()).await? {
        LinkStart::Redirect { url, state } => {
            let binding = service.browser_binding(&state).map_err(PageError::Access)?;
            let cookie = set_cookie(
                &service,
                &binding_cookie_name(&provider),
                &binding,
                &format!("/oauth/{provider}/callback"),
                linking::STATE_TTL.as_secs() as i64,
            );
            Ok(([(header::SET_COOKIE, cookie)], Redirect::to(&url)).into_response())
        }
    }
}

/// `GET /oauth/{provider}/callback?code=&state=` (or `?error=`): the linked page.
pub(crate) async fn link_callback(
    State(service): Service,
    headers: HeaderMap,
    provider: Result<Path<String>, PathRejection>,
    query: Result<Query<CallbackQuery>, QueryRejection>,
) -> Result<LinkedPage, PageError> {
    let Path(provider) = provider?;
    let Query(query) = query?;
    // The state must come back to the browser that started the flow, before it is consumed.
    if let Some(state) = query.state.as_deref()
        && !service.binding_matches(state, cookie(&headers, &binding_cookie_name(&provider)))
    {
        tracing::warn!(
            provider,
            "OAuth callback from another browser than the one that started it refused"
        );
        return Err(PageError::Link(LinkError::OtherBrowser));
    }
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
