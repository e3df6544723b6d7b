//! The connector's page: `GET /connector/launch?token=` turns a launch token into a session
//! cookie; `/connector` and the screens under it show and change the session's group only.
//! Forms post back here with the session's CSRF token, then redirect (`303`) to a screen.

use std::sync::Arc;

use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::Markup;
use serde::Deserialize;
use service::{AccessError, ConnectorService, Session};
use sync_core::domain::{DirectionFlags, Side};

use crate::auth::{PageSession, SESSION_COOKIE, set_cookie};
use crate::respond::{PageError, RequestError, html};

pub(crate) mod assets;
pub(crate) mod layout;
pub(crate) mod screens;

type Service = State<Arc<ConnectorService>>;
type Session_ = Result<PageSession, PageError>;

/// `?token=` of a launch.
#[derive(Deserialize)]
pub(crate) struct LaunchQuery {
    token: Option<String>,
}

/// `?notice=` and `?watch=&after=` of the home screen.
#[derive(Deserialize)]
pub(crate) struct HomeQuery {
    notice: Option<String>,
    watch: Option<String>,
    after: Option<String>,
}

/// Every form carries the session's CSRF token.
#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    csrf: Option<String>,
    confirm: Option<String>,
    purge: Option<String>,
    on: Option<String>,
    to_hub: Option<String>,
    to_app: Option<String>,
    entity: Option<String>,
    source: Option<String>,
    id: Option<String>,
}

fn session_of(session: Session_) -> Result<Session, PageError> {
    session.map(|PageSession(s)| s)
}

fn checked(
    form: &Result<Form<CsrfForm>, FormRejection>,
    session: &Session,
) -> Result<(), PageError> {
    match form {
        Ok(Form(form)) if session.csrf_matches(form.csrf.as_deref().unwrap_or_default()) => Ok(()),
        Ok(_) => Err(PageError::Access(AccessError::Csrf)),
        Err(_) => Err(PageError::Request(RequestError::UnreadableBody)),
    }
}

fn back(notice: &str) -> Redirect {
    Redirect::to(&format!("/connector?notice={notice}"))
}

/// `GET /connector/launch?token=`: checks the token once, sets the session cookie, and sends the
/// browser on to `/connector` (so the token leaves the address bar at once).
pub(crate) async fn launch(
    State(service): Service,
    query: Result<Query<LaunchQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let Query(query) = query?;
    let token = query.token.unwrap_or_default();
    let session = service.launch(&token).map_err(PageError::Access)?;
    let sealed = service.seal_session(&session).map_err(PageError::Access)?;
    let cookie = set_cookie(
        &service,
        SESSION_COOKIE,
        &sealed,
        "/",
        access::SESSION_LIFETIME.as_secs() as i64,
    );
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/connector")).into_response())
}

/// `GET /connector`: every app for the session's group.
pub(crate) async fn home(
    State(service): Service,
    session: Session_,
    query: Result<Query<HomeQuery>, QueryRejection>,
) -> Result<Page, PageError> {
    let session = session_of(session)?;
    let Query(query) = query?;
    let view = service.group_view(&session.group()).await?;
    let watch = query
        .watch
        .as_deref()
        .map(|app| (app, query.after.as_deref().unwrap_or("")));
    Ok(Page(screens::home(
        &view,
        &session,
        query.notice.as_deref(),
        watch,
    )))
}

/// `POST /connector/apps/{app}/entities/{entity}`: the direction switches of one pair.
pub(crate) async fn set_directions(
    State(service): Service,
    session: Session_,
    path: Result<Path<(String, String)>, PathRejection>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Redirect, PageError> {
    let session = session_of(session)?;
    let Path((app, entity)) = path?;
    checked(&form, &session)?;
    let Ok(Form(form)) = form else {
        unreachable!("checked")
    };
    let flags = DirectionFlags {
        to_hub: form.to_hub.is_some(),
        to_app: form.to_app.is_some(),
    };
    service
        .set_directions(&session.group(), &app, &entity, flags)
        .await?;
    Ok(back("saved"))
}

/// `POST /connector/apps/{app}/historical`: on (after the confirmation box) or off.
pub(crate) async fn set_historical(
    State(service): Service,
    session: Session_,
    Path(app): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Redirect, PageError> {
    let session = session_of(session)?;
    checked(&form, &session)?;
    let Ok(Form(form)) = form else {
        unreachable!("checked")
    };
    let on = form.on.as_deref() == Some("true");
    if on && form.confirm.as_deref() != Some("yes") {
        return Ok(back("confirm-needed"));
    }
    service
        .set_historical_data(&session.group(), &app, on)
        .await?;
    Ok(back(if on {
        "historical-on"
    } else {
        "historical-off"
    }))
}

/// `POST /connector/apps/{app}/sync`: queue a sync, then watch it on the home screen.
pub(crate) async fn sync_now(
    State(service): Service,
    session: Session_,
    Path(app): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Redirect, PageError> {
    let session = session_of(session)?;
    checked(&form, &session)?;
    let group = session.group();
    let before = service
        .runs(&group, &app)
        .await?
        .first()
        .map(|r| r.id.clone())
        .unwrap_or_default();
    service.sync_now(&group, &app).await?;
    let app: String = url::form_urlencoded::byte_serialize(app.as_bytes()).collect();
    Ok(Redirect::to(&format!(
        "/connector?notice=sync-queued&watch={app}&after={before}#app-{app}"
    )))
}

/// `GET /connector/apps/{app}/runs`.
pub(crate) async fn runs(
    State(service): Service,
    session: Session_,
    Path(app): Path<String>,
) -> Result<Page, PageError> {
    let session = session_of(session)?;
    let runs = service.runs(&session.group(), &app).await?;
    Ok(Page(screens::history(
        &session,
        &app_name(&service, &app),
        &runs,
    )))
}

/// `GET /connector/apps/{app}/failures`.
pub(crate) async fn failures(
    State(service): Service,
    session: Session_,
    Path(app): Path<String>,
    query: Result<Query<HomeQuery>, QueryRejection>,
) -> Result<Page, PageError> {
    let session = session_of(session)?;
    let Query(query) = query?;
    let list = service.failures(&session.group(), &app).await?;
    Ok(Page(screens::failures(
        &session,
        &app,
        &app_name(&service, &app),
        &list,
        query.notice.as_deref(),
    )))
}

/// `POST /connector/apps/{app}/retry`: one record again, then back to the problems.
pub(crate) async fn retry(
    State(service): Service,
    session: Session_,
    Path(app): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Redirect, PageError> {
    let session = session_of(session)?;
    checked(&form, &session)?;
    let Ok(Form(form)) = form else {
        unreachable!("checked")
    };
    let source = parse_side(form.source.as_deref())?;
    let (Some(entity), Some(id)) = (form.entity.as_deref(), form.id.as_deref()) else {
        return Err(PageError::Request(RequestError::UnreadableBody));
    };
    let retried = service
        .retry(&session.group(), &app, entity, source, id)
        .await?;
    let notice = if retried.still_failing.is_some() {
        "retry-failed"
    } else {
        "retried"
    };
    let app: String = url::form_urlencoded::byte_serialize(app.as_bytes()).collect();
    Ok(Redirect::to(&format!(
        "/connector/apps/{app}/failures?notice={notice}"
    )))
}

/// `hub` or `app`.
pub(crate) fn parse_side(side: Option<&str>) -> Result<Side, PageError> {
    match side {
        Some("hub") => Ok(Side::Hub),
        Some("app") => Ok(Side::App),
        _ => Err(PageError::Request(RequestError::UnreadableBody)),
    }
}

/// `?q=` of a search.
#[derive(Deserialize)]
pub(crate) struct SearchQuery {
    q: Option<String>,
}

/// `GET /connector/apps/{app}/search?q=`.
pub(crate) async fn search(
    State(service): Service,
    session: Session_,
    Path(app): Path<String>,
    query: Result<Query<SearchQuery>, QueryRejection>,
) -> Result<Page, PageError> {
    let session = session_of(session)?;
    let Query(query) = query?;
    let q = query.q.unwrap_or_default();
    let found = service.search(&session.group(), &app, &q).await?;
    Ok(Page(screens::search(
        &session,
        &app,
        &app_name(&service, &app),
        &q,
        &found,
    )))
}

/// `GET /connector/apps/{app}/unlink`: the confirmation.
pub(crate) async fn unlink_confirm(
    State(service): Service,
    session: Session_,
    Path(app): Path<String>,
) -> Result<Page, PageError> {
    let session = session_of(session)?;
    let view = service.group_view(&session.group()).await?;
    let app = view
        .apps
        .iter()
        .find(|a| a.id.as_str() == app)
        .ok_or(PageError::Request(RequestError::NotFound))?;
    Ok(Page(screens::unlink_confirm(&session, app)))
}

/// `POST /connector/apps/{app}/unlink`.
pub(crate) async fn unlink(
    State(service): Service,
    session: Session_,
    Path(app): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Redirect, PageError> {
    let session = session_of(session)?;
    checked(&form, &session)?;
    let Ok(Form(form)) = form else {
        unreachable!("checked")
    };
    if form.confirm.as_deref() != Some("yes") {
        return Ok(back("confirm-needed"));
    }
    let purge = form.purge.as_deref() == Some("yes");
    let unlinked = service.unlink(&session.group(), &app, purge).await?;
    Ok(back(match (unlinked.revoked, purge) {
        (false, _) => "unlinked-not-revoked",
        (true, true) => "unlinked-purged",
        (true, false) => "unlinked",
    }))
}

fn app_name(service: &ConnectorService, app: &str) -> String {
    service
        .apps()
        .get(app)
        .map(|a| a.display_name().to_owned())
        .unwrap_or_else(|| app.to_owned())
}

/// `GET /connector/assets/app.css`.
pub(crate) async fn css() -> Response {
    asset("text/css; charset=utf-8", assets::CSS)
}

/// `GET /connector/assets/app.js`.
pub(crate) async fn js() -> Response {
    asset("text/javascript; charset=utf-8", assets::JS)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, content_type.parse().expect("static"));
    (StatusCode::OK, headers, body).into_response()
}

/// A screen, answered `200`.
pub(crate) struct Page(pub Markup);

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        html(StatusCode::OK, self.0.into_string())
    }
}
