//! The screens: the group's home (every app), linking and unlinking confirmations, run history,
//! failed and parked records, id-map search, and refusals.

use maud::{Markup, html};
use service::{AppView, FailureView, GroupView, IdMapView, LinkState, RunView, Session};

use super::layout::{badge, csrf, document, notice};

/// `/connector`: every app for the session's group.
pub fn home(
    view: &GroupView,
    session: &Session,
    notice_code: Option<&str>,
    watch: Option<(&str, &str)>,
) -> Markup {
    document(
        "Apps",
        Some(session),
        html! {
            h1 { "Apps linked to this group" }
            (notice(notice_code))
            @for app in &view.apps {
                (app_card(view, app, session, watch))
            }
        },
    )
}

fn app_base(group: &str, app: &str) -> String {
    let _ = group;
    format!("/connector/apps/{app}")
}

fn runs_api(group: &str, app: &str) -> String {
    format!("/api/v1/groups/{group}/apps/{app}/runs")
}

fn app_card(
    view: &GroupView,
    app: &AppView,
    session: &Session,
    watch: Option<(&str, &str)>,
) -> Markup {
    let base = app_base(&view.group_id, app.id.as_str());
    let linked = matches!(app.link, LinkState::Linked { .. });
    let watching = watch.filter(|(id, _)| *id == app.id.as_str());
    let running = app
        .last_run
        .as_ref()
        .is_some_and(|r| r.status.as_str() == "running");
    html! {
        section.app id={ "app-" (app.id.as_str()) } {
            div.app-head {
                h2 { (app.name) }
                (link_badge(&app.link))
            }
            @match &app.link {
                LinkState::NotLinked => p.muted { "Not linked yet." },
                LinkState::Linked { account, .. } => p { "Linked to account " strong { (account) } "." },
                LinkState::NeedsReauthorization { account, reason, .. } => p.error {
                    "Account " strong { (account) } " needs to be linked again: " (reason)
                },
                LinkState::Unlinked { account, .. } => p.muted { "Unlinked from account " (account) "." },
            }
            div.actions {
                @if app.oauth && !linked {
                    a.button href={ "/oauth/" (app.id.as_str()) "/start" } {
                        @if matches!(app.link, LinkState::NotLinked) { "Link " (app.name) } @else { "Link again" }
                    }
                }
                @if linked {
                    form method="post" action={ (base) "/sync" } {
                        (csrf(session))
                        button type="submit" name="go" value="1" { "Sync now" }
                    }
                    a.button.secondary href={ (base) "/runs" } { "History" }
                    a.button.secondary href={ (base) "/failures" } { "Problems" }
                    a.button.secondary href={ (base) "/unlink" } { "Unlink" }
                }
            }
            @if app.link.org().is_some() {
                p.run-status
                    data-runs-url=(runs_api(&view.group_id, app.id.as_str()))
                    data-after=(watching.map(|(_, after)| after).unwrap_or(""))
                    data-watch[watching.is_some() || running]
                {
                    @match &app.last_run {
                        Some(run) => (run_line(run)),
                        None => "No sync has run yet.",
                    }
                }
            }
            @if linked {
                h3 { "What travels" }
                div.table-wrap { table {
                    thead { tr { th { "Connec!" } th { (app.name) } th { "Directions" } } }
                    tbody {
                        @for entity in &app.entities {
                            tr {
                                td { (entity.entity.as_str()) }
                                td { (entity.app_entity) }
                                td {
                                    form.entity-form method="post" action={ (base) "/entities/" (entity.entity.as_str()) } {
                                        (csrf(session))
                                        label { input type="checkbox" name="to_hub" value="on" checked[entity.to_hub] disabled[!entity.can_to_hub]; " to Connec!" }
                                        label { input type="checkbox" name="to_app" value="on" checked[entity.to_app] disabled[!entity.can_to_app]; " to " (app.name) }
                                        noscript { button.secondary type="submit" { "Save" } }
                                    }
                                }
                            }
                        }
                    }
                } }
                h3 { "Historical data" }
                form method="post" action={ (base) "/historical" } {
                    (csrf(session))
                    @if app.historical_data {
                        p { "On: records that existed before linking travel too." }
                        input type="hidden" name="on" value="false";
                        button.secondary type="submit" { "Turn historical data off" }
                    } @else {
                        p { "Off: only records created after linking travel." }
                        p.warning {
                            "Turning historical data on syncs every existing record. Records that "
                            "exist on both sides before linking may be duplicated if they cannot be matched "
                            "(by e-mail, reference or name)."
                        }
                        input type="hidden" name="on" value="true";
                        label { input type="checkbox" name="confirm" value="yes"; " I understand" }
                        " "
                        button type="submit" { "Turn historical data on" }
                    }
                }
                h3 { "Find a record" }
                form.search method="get" action={ (base) "/search" } {
                    input type="search" name="q" placeholder="Name, Connec! id or app id" aria-label="Search";
                    button.secondary type="submit" { "Search" }
                }
            }
        }
    }
}

fn link_badge(link: &LinkState) -> Markup {
    match link {
        LinkState::NotLinked => badge("off", "not linked"),
        LinkState::Linked { .. } => badge("ok", "linked"),
        LinkState::NeedsReauthorization { .. } => badge("bad", "needs re-authorisation"),
        LinkState::Unlinked { .. } => badge("off", "unlinked"),
    }
}

fn run_line(run: &RunView) -> Markup {
    let written: u64 = run.counts.iter().map(|c| c.counts.written()).sum();
    let failed: u64 = run
        .counts
        .iter()
        .map(|c| c.counts.failed + c.counts.deferred)
        .sum();
    html! {
        "Last sync " strong.status { (run.status.as_str()) } ", started " (run.started_at)
        ": " (written) " record(s) written"
        @if failed > 0 { ", " (failed) " failed or waiting" }
        "."
    }
}

/// `GET /oauth/{provider}/start`: "link this group to this app?".
pub fn link_confirm(session: &Session, provider: &str, app_name: &str) -> Markup {
    document(
        "Link",
        Some(session),
        html! {
            h1 { "Link " (app_name) }
            p { "You are about to link Connec! group " strong { (session.group_id) } " to an account of " strong { (app_name) } "." }
            p.muted { (app_name) " will ask you to sign in and approve access; then you come back here." }
            form method="post" action={ "/oauth/" (provider) "/start" } {
                (csrf(session))
                div.actions {
                    button type="submit" { "Continue to " (app_name) }
                    a.button.secondary href="/connector" { "Cancel" }
                }
            }
        },
    )
}

/// `GET /connector/apps/{app}/unlink`: the confirmation, with or without purge.
pub fn unlink_confirm(session: &Session, app: &AppView) -> Markup {
    document(
        "Unlink",
        Some(session),
        html! {
            h1 { "Unlink " (app.name) }
            p { "Connec! group " strong { (session.group_id) } " will stop syncing with " (app.name) ". Its tokens are removed and our access is revoked where " (app.name) " allows it." }
            form method="post" action={ "/connector/apps/" (app.id.as_str()) "/unlink" } {
                (csrf(session))
                p { label { input type="checkbox" name="purge" value="yes"; " Also forget what was synced (id-maps): linking again later starts over, matching records again." } }
                label { input type="checkbox" name="confirm" value="yes" required; " Yes, unlink" }
                div.actions {
                    button.danger type="submit" { "Unlink" }
                    a.button.secondary href="/connector" { "Cancel" }
                }
            }
        },
    )
}

/// `GET /connector/apps/{app}/runs`.
pub fn history(session: &Session, app_name: &str, runs: &[RunView]) -> Markup {
    document(
        "History",
        Some(session),
        html! {
            h1 { (app_name) ": sync history" }
            @if runs.is_empty() { p.muted { "No sync has run yet." } }
            @for run in runs {
                section.app {
                    div.app-head {
                        h2 { (run.started_at) }
                        (badge(match run.status.as_str() { "success" => "ok", "partial" => "warn", "failed" => "bad", _ => "off" }, run.status.as_str()))
                    }
                    @if !run.errors.is_empty() {
                        ul.error { @for e in &run.errors { li { (e) } } }
                    }
                    div.table-wrap { table {
                        thead { tr { th { "Entity" } th { "Direction" } th { "Created" } th { "Updated" } th { "Merged" } th { "Skipped" } th { "Conflicts" } th { "Failed" } th { "Waiting" } th { "Archived" } } }
                        tbody { @for c in &run.counts {
                            tr {
                                td { (c.entity.as_str()) }
                                td { @if c.direction == "to_hub" { "to Connec!" } @else { "to " (app_name) } }
                                td { (c.counts.created) } td { (c.counts.updated) } td { (c.counts.merged) }
                                td { (c.counts.skipped) } td { (c.counts.conflicts) } td { (c.counts.failed) }
                                td { (c.counts.deferred) } td { (c.counts.archived) }
                            }
                        } }
                    } }
                }
            }
            p { a href="/connector" { "Back" } }
        },
    )
}

/// `GET /connector/apps/{app}/failures`.
pub fn failures(
    session: &Session,
    app: &str,
    app_name: &str,
    list: &[FailureView],
    notice_code: Option<&str>,
) -> Markup {
    document(
        "Problems",
        Some(session),
        html! {
            h1 { (app_name) ": records that did not travel" }
            (notice(notice_code))
            @if list.is_empty() { p.muted { "Nothing failed and nothing is waiting." } }
            @else {
                div.table-wrap { table.stack {
                    thead { tr { th { "Record" } th { "Entity" } th { "From" } th { "Problem" } th {} } }
                    tbody { @for f in list {
                        tr.failure {
                            td { (f.name.as_deref().unwrap_or("")) br; code { (f.id) } }
                            td { (f.entity.as_str()) }
                            td { @if matches!(f.source, sync_core::domain::Side::Hub) { "Connec!" } @else { (app_name) } }
                            td { (badge(if f.kind == "failed" { "bad" } else { "warn" }, f.kind)) " " span.error { (f.error) } }
                            td {
                                form method="post" action={ "/connector/apps/" (app) "/retry" } {
                                    (csrf(session))
                                    input type="hidden" name="entity" value=(f.entity.as_str());
                                    input type="hidden" name="source" value=(if matches!(f.source, sync_core::domain::Side::Hub) { "hub" } else { "app" });
                                    input type="hidden" name="id" value=(f.id);
                                    button.secondary type="submit" { "Retry" }
                                }
                            }
                        }
                    } }
                } }
            }
            p { a href="/connector" { "Back" } }
        },
    )
}

/// `GET /connector/apps/{app}/search?q=`.
pub fn search(
    session: &Session,
    app: &str,
    app_name: &str,
    query: &str,
    found: &[IdMapView],
) -> Markup {
    document(
        "Search",
        Some(session),
        html! {
            h1 { (app_name) ": find a record" }
            form.search method="get" action={ "/connector/apps/" (app) "/search" } {
                input type="search" name="q" value=(query) aria-label="Search";
                button.secondary type="submit" { "Search" }
            }
            @if !query.trim().is_empty() && found.is_empty() { p.muted { "No record matches." } }
            @if !found.is_empty() {
                div.table-wrap { table.stack {
                    thead { tr { th { "Name" } th { "Entity" } th { "Connec! id" } th { (app_name) " id" } th { "State" } } }
                    tbody { @for m in found {
                        tr.idmap {
                            td { (m.name.as_deref().unwrap_or("")) }
                            td { (m.entity.as_str()) }
                            td { code { (m.hub_id.as_deref().unwrap_or("-")) } }
                            td { code { (m.app_id.as_deref().unwrap_or("-")) } }
                            td {
                                @if let Some(e) = &m.last_error { span.error { (e) } }
                                @else if m.inactive { "archived" } @else { "in sync" }
                            }
                        }
                    } }
                } }
            }
            p { a href="/connector" { "Back" } }
        },
    )
}

/// The page an OAuth callback ends on when the account is linked.
pub fn linked(group: &str, app_name: &str, realm: &str) -> Markup {
    document(
        "Linked",
        None,
        html! {
            h1 { "Linked" }
            p { "Connec! group " (group) " is now linked to " (app_name) " account " (realm) ". The first sync has started." }
            p { a.button href="/connector" { "Back to the connector's page" } }
        },
    )
}

/// A refusal or an error, for a person.
pub fn message(title: &str, text: &str, session: Option<&Session>) -> Markup {
    document(
        title,
        session,
        html! {
            h1 { (title) }
            p { (text) }
        },
    )
}
