//! Xero's identity side: which tenant a consent linked (`GET /connections`), and undoing a link
//! (revoking the refresh token, deleting the connection).
//!
//! One consent may connect several organisations. Xero's access token is a JWT whose
//! `authentication_event_id` claim names the consent; each connection made by it carries the same
//! `authEventId`. So the tenant linked is the connection of that event ([`choose_connection`]),
//! the most recently created when there are several, and any connection when the token says no
//! event. Only `ORGANISATION` tenants have the Accounting API.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::Value;

use crate::http::parse_xero_timestamp;

/// One entry of `GET /connections`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    /// The connection's id (for `DELETE /connections/{id}`).
    pub id: String,
    /// The tenant: the realm of the account.
    pub tenant_id: String,
    /// `ORGANISATION` or `PRACTICE`.
    #[serde(default)]
    pub tenant_type: Option<String>,
    /// The organisation's name.
    #[serde(default)]
    pub tenant_name: Option<String>,
    /// The consent that made it.
    #[serde(default)]
    pub auth_event_id: Option<String>,
    /// When it was made.
    #[serde(default)]
    pub created_date_utc: Option<String>,
}

/// The `authentication_event_id` claim of an access token (a JWT; read, not verified: it only
/// picks among the connections Xero lists for that very token).
pub fn auth_event_id(access_token: &str) -> Option<String> {
    let payload = access_token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims
        .get("authentication_event_id")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// The connection a consent linked: among organisation tenants, those of `event` when it is
/// given and any of them matches, the most recently created.
pub fn choose_connection<'a>(
    connections: &'a [Connection],
    event: Option<&str>,
) -> Option<&'a Connection> {
    let organisations: Vec<&Connection> = connections
        .iter()
        .filter(|c| {
            c.tenant_type
                .as_deref()
                .is_none_or(|t| t.eq_ignore_ascii_case("ORGANISATION"))
        })
        .collect();
    let of_event: Vec<&Connection> = match event {
        Some(event) => organisations
            .iter()
            .copied()
            .filter(|c| c.auth_event_id.as_deref() == Some(event))
            .collect(),
        None => Vec::new(),
    };
    let pool = if of_event.is_empty() {
        organisations
    } else {
        of_event
    };
    pool.into_iter().max_by_key(|c| {
        c.created_date_utc
            .as_deref()
            .and_then(parse_xero_timestamp)
            .map(|t| t.epoch_millis())
            .unwrap_or(i64::MIN)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection(
        id: &str,
        tenant: &str,
        event: Option<&str>,
        created: &str,
        kind: &str,
    ) -> Connection {
        Connection {
            id: id.into(),
            tenant_id: tenant.into(),
            tenant_type: Some(kind.into()),
            tenant_name: Some(format!("Org {tenant}")),
            auth_event_id: event.map(str::to_owned),
            created_date_utc: Some(created.into()),
        }
    }

    fn jwt(claims: &str) -> String {
        format!("e30.{}.sig", URL_SAFE_NO_PAD.encode(claims))
    }

    #[test]
    fn the_event_of_the_token_picks_the_connection() {
        assert_eq!(
            auth_event_id(&jwt(r#"{"authentication_event_id":"ev-2","sub":"x"}"#)).as_deref(),
            Some("ev-2")
        );
        assert_eq!(auth_event_id(&jwt(r#"{"sub":"x"}"#)), None);
        assert_eq!(auth_event_id("opaque-token"), None);
        let all = [
            connection(
                "c1",
                "t1",
                Some("ev-1"),
                "2024-01-01T10:00:00.0000000",
                "ORGANISATION",
            ),
            connection(
                "c2",
                "t2",
                Some("ev-2"),
                "2024-01-02T10:00:00.0000000",
                "ORGANISATION",
            ),
            connection(
                "c3",
                "t3",
                Some("ev-2"),
                "2024-01-03T10:00:00.0000000",
                "ORGANISATION",
            ),
            connection(
                "c4",
                "t4",
                Some("ev-2"),
                "2024-01-04T10:00:00.0000000",
                "PRACTICE",
            ),
            connection(
                "c5",
                "t5",
                Some("ev-1"),
                "2024-01-05T10:00:00.0000000",
                "ORGANISATION",
            ),
        ];
        let pick =
            |event: Option<&str>| choose_connection(&all, event).map(|c| c.tenant_id.as_str());
        // The newest organisation of the event; the practice is no candidate.
        assert_eq!(pick(Some("ev-2")), Some("t3"));
        assert_eq!(pick(Some("ev-1")), Some("t5"));
        // No event, or an event no connection carries: the newest organisation.
        assert_eq!(pick(None), Some("t5"));
        assert_eq!(pick(Some("ev-9")), Some("t5"));
        assert_eq!(choose_connection(&[], None), None);
        assert_eq!(choose_connection(&all[3..4], None), None);
    }
}
