//! Reading over HTTP against a fixture server answering as Xero does: the tenant header, the
//! watermark, paging, and what the engine is told of each record.

mod common;

use common::{Answer, connector, contact, entity, serve};
use serde_json::json;
use sync_core::domain::{PageCursor, Timestamp};
use sync_core::ports::AppConnector;

#[tokio::test]
async fn pages_carry_the_tenant_the_watermark_and_the_page() {
    let server = serve(|seen| {
        let page = seen.query("page").unwrap_or("1");
        let contacts = if page == "1" {
            vec![contact("c-1", "A"), contact("c-2", "B")]
        } else {
            vec![contact("c-3", "C")]
        };
        Answer::ok(json!({ "pagination": { "page": 1, "pageSize": 2 }, "Contacts": contacts }))
    })
    .await;
    let xero = connector(&server.url, 2);
    let since = Timestamp::parse("2024-05-01T10:00:00Z").unwrap();
    let first = xero
        .fetch_page(&entity("contacts"), Some(since), None)
        .await
        .unwrap();
    assert_eq!(first.records.len(), 2);
    assert_eq!(first.next, Some(PageCursor::new("2")));
    let second = xero
        .fetch_page(&entity("contacts"), Some(since), first.next.as_ref())
        .await
        .unwrap();
    assert_eq!(second.records.len(), 1);
    assert_eq!(second.next, None);

    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    let call = &seen[0];
    assert_eq!(
        (call.method.as_str(), call.path.as_str()),
        ("GET", "/api.xro/2.0/Contacts")
    );
    assert_eq!(call.header("xero-tenant-id"), Some("tenant-1"));
    assert_eq!(call.header("accept"), Some("application/json"));
    assert_eq!(call.header("authorization"), Some("Bearer tok-1"));
    // The watermark minus the connector's overlap, RFC 3339 in UTC.
    assert_eq!(
        call.header("if-modified-since"),
        Some("2024-05-01T09:59:00.000Z")
    );
    assert_eq!(call.query("order"), Some("UpdatedDateUTC ASC"));
    assert_eq!(call.query("page"), Some("1"));
    assert_eq!(call.query("pageSize"), Some("2"));
    assert_eq!(call.query("includeArchived"), Some("true"));
    assert_eq!(seen[1].query("page"), Some("2"));

    // A first sync sends no If-Modified-Since; describe reads Xero's dates.
    xero.fetch_page(&entity("contacts"), None, None)
        .await
        .unwrap();
    assert_eq!(server.seen()[2].header("if-modified-since"), None);
    let meta = xero
        .describe(&entity("contacts"), &contact("c-1", "A"))
        .unwrap();
    assert_eq!(meta.updated_at.to_rfc3339(), "2017-08-21T20:49:04.227Z");
    assert!(!meta.archived);
}

#[tokio::test]
async fn items_are_one_page_and_archived_records_are_described_so() {
    let server = serve(|_| {
        Answer::ok(json!({ "Items": [
            { "ItemID": "i-1", "Code": "W1", "UpdatedDateUTC": "/Date(1503348544227+0000)/" },
            { "ItemID": "i-2", "Code": "W2", "UpdatedDateUTC": "/Date(1503348544227+0000)/" },
        ]}))
    })
    .await;
    let xero = connector(&server.url, 2);
    let page = xero.fetch_page(&entity("items"), None, None).await.unwrap();
    assert_eq!((page.records.len(), page.next), (2, None));
    let call = &server.seen()[0];
    assert_eq!(call.query("page"), None);
    assert_eq!(call.query("pageSize"), None);

    let stamp = "/Date(1503348544227+0000)/";
    let cases = [
        (
            "invoices",
            json!({ "InvoiceID": "x", "Status": "VOIDED", "UpdatedDateUTC": stamp }),
            true,
        ),
        (
            "invoices",
            json!({ "InvoiceID": "x", "Status": "DELETED", "UpdatedDateUTC": stamp }),
            true,
        ),
        (
            "invoices",
            json!({ "InvoiceID": "x", "Status": "PAID", "UpdatedDateUTC": stamp }),
            false,
        ),
        (
            "payments",
            json!({ "PaymentID": "x", "Status": "DELETED", "UpdatedDateUTC": stamp }),
            true,
        ),
        (
            "payments",
            json!({ "PaymentID": "x", "Status": "AUTHORISED", "UpdatedDateUTC": stamp }),
            false,
        ),
        (
            "companies",
            json!({ "ContactID": "x", "ContactStatus": "ARCHIVED", "UpdatedDateUTC": stamp }),
            true,
        ),
        (
            "persons",
            json!({ "PersonID": "x:1", "ContactStatus": "ACTIVE", "UpdatedDateUTC": stamp }),
            false,
        ),
    ];
    for (name, record, archived) in cases {
        let meta = xero.describe(&entity(name), &record).unwrap();
        assert_eq!(meta.archived, archived, "{name} {record}");
        assert_eq!(meta.marker, None);
    }
    assert!(
        xero.describe(&entity("invoices"), &json!({ "InvoiceID": "x" }))
            .is_err()
    );
    assert!(xero.describe(&entity("quotes"), &json!({})).is_err());
}

#[tokio::test]
async fn a_minute_429_is_retried_after_retry_after() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let calls = AtomicUsize::new(0);
    let server = serve(move |_| {
        if calls.fetch_add(1, Ordering::SeqCst) == 0 {
            Answer::status(429, json!({ "Title": "Too Many Requests" }))
                .with("x-rate-limit-problem", "minute")
                .with("retry-after", "0")
        } else {
            Answer::ok(json!({ "Contacts": [contact("c-1", "A")] }))
        }
    })
    .await;
    let xero = connector(&server.url, 100);
    let page = xero
        .fetch_page(&entity("contacts"), None, None)
        .await
        .unwrap();
    assert_eq!(page.records.len(), 1);
    assert_eq!(server.seen().len(), 2);
}
