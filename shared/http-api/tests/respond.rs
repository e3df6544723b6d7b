//! Every typed outcome of the service, and every refusal of the router, as the status and body
//! the edge answers with.

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use http_api::{Acknowledged, JsonError, LinkedPage, PageError, RequestError};
use http_body_util::BodyExt;
use service::{LinkError, Linked, ReceiveError, Received, Unavailable};
use sync_core::domain::{GroupId, OrgId, Provider, Realm};

async fn answer(response: axum::response::Response) -> (StatusCode, Option<String>, String) {
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        content_type,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

const HTML: &str = "text/html; charset=utf-8";
const JSON: &str = "application/json";

#[tokio::test]
async fn link_errors_are_pages_with_their_status_and_title() {
    let hubspot = Provider::new("hubspot");
    let cases: Vec<(LinkError, u16, &str)> = vec![
        (
            LinkError::UnknownApp {
                provider: "nope".into(),
                known: vec!["hubspot".into(), "xero".into()],
            },
            404,
            "Unknown app",
        ),
        (LinkError::OtherBrowser, 400, "Linking failed"),
        (
            LinkError::CannotStart(linking::LinkError::Config {
                provider: hubspot.clone(),
                detail: "bad authorize URL".into(),
            }),
            500,
            "Cannot start linking",
        ),
        (
            LinkError::Refused(linking::LinkError::StateAlreadyUsed),
            400,
            "Linking failed",
        ),
        (
            LinkError::AccountUnknown {
                app_name: "HubSpot".into(),
                error: connector_sdk::ProviderError::Answer {
                    provider: "hubspot".into(),
                    detail: "no hub_id".into(),
                },
            },
            502,
            "Linking failed",
        ),
        (
            LinkError::NotLinked(linking::LinkError::AccountAlreadyLinked {
                provider: hubspot,
                account: "62515".into(),
                group: GroupId::new("cld-1"),
            }),
            409,
            "Linking refused",
        ),
    ];
    for (error, status, title) in cases {
        let message = error.to_string();
        let (got, content_type, body) = answer(PageError::from(error).into_response()).await;
        assert_eq!(got.as_u16(), status, "{body}");
        assert_eq!(content_type.as_deref(), Some(HTML));
        assert!(body.to_lowercase().starts_with("<!doctype html>"), "{body}");
        assert!(body.contains(&format!("<h1>{title}</h1>")), "{body}");
        let escaped = message.replace('<', "&lt;").replace('>', "&gt;");
        assert!(body.contains(&escaped), "{body}");
    }
}

#[tokio::test]
async fn pages_escape_what_they_show() {
    let error = LinkError::UnknownApp {
        provider: "<script>alert(1)</script>".into(),
        known: vec!["hubspot".into()],
    };
    let (_, _, body) = answer(PageError::from(error).into_response()).await;
    assert!(!body.contains("<script>"), "{body}");
    assert!(body.contains("&lt;script&gt;"), "{body}");
}

#[tokio::test]
async fn a_link_is_a_200_page_naming_the_group_app_and_account() {
    let linked = Linked {
        org: OrgId::new("cld-1"),
        group: GroupId::new("cld-1"),
        app_name: "HubSpot".into(),
        realm: Realm::new("62515"),
    };
    let (status, content_type, body) = answer(LinkedPage(linked).into_response()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type.as_deref(), Some(HTML));
    assert!(body.contains("<h1>Linked</h1>"), "{body}");
    assert!(
        body.contains(
            "<p>Connec! group cld-1 is now linked to HubSpot account 62515. The first sync has \
             started.</p>"
        ),
        "{body}"
    );
    assert!(body.contains(r#"href="/connector""#), "{body}");
}

#[tokio::test]
async fn receive_errors_are_json_errors_with_their_status() {
    let cases: Vec<(ReceiveError, u16, &str)> = vec![
        (
            ReceiveError::UnknownTenant("acme".into()),
            404,
            "unknown tenant `acme`",
        ),
        (
            ReceiveError::NoWebhooks("nope".into()),
            404,
            "no webhooks configured for `nope`",
        ),
        (
            ReceiveError::Rejected {
                status: 401,
                message: "missing `authorization` header".into(),
            },
            401,
            "missing `authorization` header",
        ),
        (
            ReceiveError::Rejected {
                status: 400,
                message: "malformed".into(),
            },
            400,
            "malformed",
        ),
        (
            ReceiveError::BadBody(webhooks::ParseError::UnexpectedBody {
                expected: "object",
                found: "array",
            }),
            400,
            "body must be a JSON object, found array",
        ),
        (
            ReceiveError::Unavailable(Unavailable::ReadOrganizations),
            503,
            "temporarily unable to read organizations; retry later",
        ),
        (
            ReceiveError::Unavailable(Unavailable::AcceptNotifications),
            503,
            "temporarily unable to accept notifications; retry later",
        ),
        (
            ReceiveError::Unavailable(Unavailable::AcceptWebhooks),
            503,
            "temporarily unable to accept webhooks; retry later",
        ),
    ];
    for (error, status, message) in cases {
        let (got, content_type, body) = answer(JsonError::from(error).into_response()).await;
        assert_eq!(got.as_u16(), status, "{body}");
        assert_eq!(content_type.as_deref(), Some(JSON));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&body).unwrap(),
            serde_json::json!({ "error": message })
        );
    }
}

#[tokio::test]
async fn a_rejection_without_a_message_has_an_empty_body() {
    let error = ReceiveError::Rejected {
        status: 401,
        message: String::new(),
    };
    let (status, content_type, body) = answer(JsonError::from(error).into_response()).await;
    assert_eq!(
        (status, content_type, body.as_str()),
        (StatusCode::UNAUTHORIZED, None, "")
    );
}

#[tokio::test]
async fn an_acceptance_is_the_counts_unless_the_scheme_wants_an_empty_body() {
    let received = |acknowledgement| Received {
        accepted: 3,
        duplicates: 1,
        ignored: 2,
        acknowledgement,
    };
    let (status, content_type, body) =
        answer(Acknowledged(received(webhooks::Acknowledgement::json_ok())).into_response()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type.as_deref(), Some(JSON));
    assert_eq!(body, r#"{"accepted":3,"duplicates":1,"ignored":2}"#);
    let (status, content_type, body) =
        answer(Acknowledged(received(webhooks::Acknowledgement::empty_ok())).into_response()).await;
    assert_eq!(
        (status, content_type, body.as_str()),
        (StatusCode::OK, None, "")
    );
}

#[tokio::test]
async fn the_routers_own_refusals_have_their_status_and_never_an_echo() {
    let cases = [
        (RequestError::NotFound, 404),
        (RequestError::MethodNotAllowed, 405),
        (RequestError::PayloadTooLarge, 413),
        (RequestError::InvalidPath, 400),
        (RequestError::InvalidQuery, 400),
        (RequestError::UnreadableBody, 400),
    ];
    for (error, status) in cases {
        assert_eq!(error.status().as_u16(), status);
        let (got, content_type, body) = answer(JsonError::from(error).into_response()).await;
        assert_eq!(
            (got.as_u16(), content_type.as_deref()),
            (status, Some(JSON))
        );
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&body).unwrap(),
            serde_json::json!({ "error": error.message() })
        );
        let (got, content_type, body) = answer(PageError::from(error).into_response()).await;
        assert_eq!(
            (got.as_u16(), content_type.as_deref()),
            (status, Some(HTML))
        );
        assert!(body.contains(error.message()), "{body}");
    }
}
