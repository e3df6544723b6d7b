//! The page frame: head, header, notices; and small pieces every screen uses.

use maud::{DOCTYPE, Markup, html};
use service::Session;

/// The stylesheet and script, served by the router (no build step, no inline code, so the
/// content security policy can forbid inline scripts).
pub const CSS_PATH: &str = "/connector/assets/app.css";
/// See [`CSS_PATH`].
pub const JS_PATH: &str = "/connector/assets/app.js";

/// A whole HTML document.
pub fn document(title: &str, session: Option<&Session>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Connector" }
                @if let Some(session) = session {
                    // For the page's script: the JSON API wants it in `x-csrf-token`.
                    meta name="csrf-token" content=(session.csrf);
                }
                link rel="stylesheet" href=(CSS_PATH);
                script src=(JS_PATH) defer {}
            }
            body {
                header.top {
                    a.brand href="/connector" { "Connector" }
                    @if let Some(session) = session {
                        span.who {
                            "Group " code { (session.group_id) }
                            " · " (session.name.as_deref().unwrap_or(&session.sub))
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// A hidden CSRF field for a form of this session.
pub fn csrf(session: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf); }
}

/// A notice after an action (fixed texts chosen by code, never text from the URL).
pub fn notice(code: Option<&str>) -> Markup {
    let text = match code {
        Some("saved") => "Saved.",
        Some("sync-queued") => "Sync requested.",
        Some("historical-on") => "Historical data is on: a full sync was requested.",
        Some("historical-off") => {
            "Historical data is off: only records created after linking travel."
        }
        Some("unlinked") => "Unlinked: the app's tokens were removed and its sync is off.",
        Some("unlinked-purged") => {
            "Unlinked and purged: the app's tokens and what was synced were removed."
        }
        Some("unlinked-not-revoked") => {
            "Unlinked, but the app did not confirm that our access was revoked: revoke it in the app's settings too."
        }
        Some("retried") => "Retried: the record went through.",
        Some("retry-failed") => "Retried, but the record failed again (the error is shown below).",
        Some("confirm-needed") => "Nothing changed: tick the confirmation box first.",
        _ => return html! {},
    };
    html! { p.notice role="status" { (text) } }
}

/// A small status badge.
pub fn badge(kind: &str, text: &str) -> Markup {
    html! { span class={ "badge " (kind) } { (text) } }
}
