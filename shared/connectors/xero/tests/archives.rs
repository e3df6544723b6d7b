//! Archiving contacts and items, and a company contact that refuses a person join, against a
//! fixture server.

mod common;

use common::{Answer, connector, echo, entity, serve};
use serde_json::json;
use sync_core::domain::{AppId, HubId};
use sync_core::ports::{AppConnector, AppWrite, AppWriteFailure};

#[tokio::test]
async fn contacts_are_archived_and_items_deleted() {
    let server = serve(|seen| match (seen.method.as_str(), seen.path.as_str()) {
        ("DELETE", "/api.xro/2.0/Items/gone") => {
            Answer::status(404, json!({ "Title": "Not Found" }))
        }
        ("DELETE", _) => Answer::status(204, serde_json::Value::Null),
        _ => {
            let mut answer = echo(seen, "Contacts", "ContactID");
            answer["Contacts"][1]["ValidationErrors"] =
                json!([{ "Message": "This contact has outstanding invoices" }]);
            Answer::ok(answer)
        }
    })
    .await;
    let xero = connector(&server.url, 100);
    let archived = xero
        .archive(
            &entity("companies"),
            &[AppId::new("c-1"), AppId::new("c-2")],
        )
        .await
        .unwrap();
    assert!(archived[0].is_ok());
    match &archived[1] {
        Err(AppWriteFailure::Rejected(e)) => {
            assert_eq!(e.message, "This contact has outstanding invoices")
        }
        other => panic!("{other:?}"),
    }
    let post = &server.seen()[0];
    assert_eq!(post.query("summarizeErrors"), Some("false"));
    assert_eq!(
        post.body["Contacts"],
        json!([
            { "ContactID": "c-1", "ContactStatus": "ARCHIVED" },
            { "ContactID": "c-2", "ContactStatus": "ARCHIVED" },
        ])
    );

    let deleted = xero
        .archive(&entity("items"), &[AppId::new("i-1"), AppId::new("gone")])
        .await
        .unwrap();
    assert!(deleted[0].is_ok());
    assert!(matches!(deleted[1], Err(AppWriteFailure::NotFound)));
    let seen = server.seen();
    assert_eq!(seen[1].method, "DELETE");
    assert_eq!(seen[1].path, "/api.xro/2.0/Items/i-1");
    assert_eq!(seen[1].header("xero-tenant-id"), Some("tenant-1"));
}

#[tokio::test]
async fn a_refused_join_fails_the_writes_of_that_company_only() {
    let server = serve(|seen| match seen.method.as_str() {
        "GET" => Answer::ok(json!({ "Contacts": [
            { "ContactID": "c-1", "Name": "Acme", "ContactPersons": [] },
            { "ContactID": "c-2", "Name": "Beta", "ContactPersons": [] },
        ]})),
        _ => {
            let mut answer = echo(seen, "Contacts", "ContactID");
            for contact in answer["Contacts"].as_array_mut().unwrap() {
                if contact["ContactID"] == "c-1" {
                    contact["ValidationErrors"] =
                        json!([{ "Message": "Too many contact persons" }]);
                }
            }
            Answer::ok(answer)
        }
    })
    .await;
    let xero = connector(&server.url, 100);
    let person = |parent: &str, email: &str| AppWrite::Create {
        hub_id: HubId::new(email),
        record: json!({ "FirstName": "P", "EmailAddress": email, "ParentContactID": parent }),
        attempt: 0,
    };
    let results = xero
        .write(
            &entity("persons"),
            vec![
                person("c-1", "a@acme.test"),
                person("c-2", "b@beta.test"),
                person("c-1", "c@acme.test"),
                person("c-missing", "d@x.test"),
            ],
        )
        .await
        .unwrap();
    for index in [0, 2] {
        match &results[index] {
            Err(AppWriteFailure::Rejected(e)) => {
                assert_eq!(
                    (e.status, e.message.as_str()),
                    (Some(400), "Too many contact persons")
                )
            }
            other => panic!("{index}: {other:?}"),
        }
    }
    assert_eq!(
        results[1].as_ref().unwrap().record["ParentContactID"],
        "c-2"
    );
    assert!(matches!(&results[3], Err(AppWriteFailure::Rejected(e)) if e.status == Some(404)));
    // One read of every parent, one write of the two that exist.
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].query("IDs"), Some("c-1,c-2,c-missing"));
    assert_eq!(seen[1].body["Contacts"].as_array().unwrap().len(), 2);
}
