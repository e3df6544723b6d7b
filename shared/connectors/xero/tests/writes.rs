//! Writing and archiving over HTTP against a fixture server answering as Xero does:
//! per-element errors, idempotency keys, 404s, person joins, item codes and archives.

mod common;

use common::{Answer, Seen, connector, echo, entity, serve};
use serde_json::{Value, json};
use sync_core::domain::{AppId, HubId};
use sync_core::ports::{AppConnector, AppWrite, AppWriteFailure, AppWriteKind};
use xero::contacts::member_id;

#[tokio::test]
async fn one_bad_record_in_a_batch_of_fifty_fails_alone() {
    let server = serve(|seen| {
        let mut answer = echo(seen, "Items", "ItemID");
        if let Some(bad) = answer["Items"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|i| i["Code"] == "C17")
        {
            bad["ValidationErrors"] =
                json!([{ "Message": "Code is already in use" }, { "Message": "Name is too long" }]);
            bad["StatusAttributeString"] = json!("ERROR");
        }
        Answer::ok(answer)
    })
    .await;
    let xero = connector(&server.url, 100);
    let writes = |n: usize| -> Vec<AppWrite> {
        (0..n)
            .map(|i| AppWrite::Create {
                hub_id: HubId::new(format!("hub-{i}")),
                record: json!({ "Code": format!("C{i}"), "Name": format!("Item {i}") }),
                attempt: 0,
            })
            .collect()
    };
    let results = xero.write(&entity("items"), writes(50)).await.unwrap();
    assert_eq!(results.len(), 50);
    for (i, result) in results.iter().enumerate() {
        match (i, result) {
            (17, Err(AppWriteFailure::Rejected(error))) => {
                assert_eq!(error.status, Some(400));
                assert_eq!(error.message, "Code is already in use; Name is too long");
            }
            (17, other) => panic!("the bad record succeeded: {other:?}"),
            (_, Ok(outcome)) => {
                assert_eq!(outcome.kind, AppWriteKind::Created);
                assert_eq!(outcome.record["Code"], format!("C{i}"));
            }
            (_, Err(e)) => panic!("record {i} failed: {e:?}"),
        }
    }
    let seen = server.seen();
    assert_eq!(seen.len(), 1, "one call for the batch");
    let call = &seen[0];
    assert_eq!(
        (call.method.as_str(), call.path.as_str()),
        ("POST", "/api.xro/2.0/Items")
    );
    assert_eq!(call.query("summarizeErrors"), Some("false"));
    assert_eq!(call.body["Items"].as_array().unwrap().len(), 50);
    let key = call.header("idempotency-key").unwrap().to_owned();
    assert_eq!(key.len(), 64);
    assert!(key.chars().all(|c| c.is_ascii_hexdigit()));

    // The same creates again carry the same key (Xero answers them without creating twice);
    // other content, another key.
    xero.write(&entity("items"), writes(50)).await.unwrap();
    xero.write(&entity("items"), writes(49)).await.unwrap();
    let seen = server.seen();
    assert_eq!(seen[1].header("idempotency-key"), Some(key.as_str()));
    assert_ne!(seen[2].header("idempotency-key"), Some(key.as_str()));
}

#[tokio::test]
async fn creates_and_updates_go_apart_and_a_404_update_is_not_found() {
    let server = serve(|seen| {
        let contacts = seen.body["Contacts"].as_array().unwrap();
        if contacts.iter().any(|c| c["ContactID"] == "gone") {
            return Answer::status(404, json!({ "Title": "Not Found" }));
        }
        Answer::ok(echo(seen, "Contacts", "ContactID"))
    })
    .await;
    let xero = connector(&server.url, 100);
    let results = xero
        .write(
            &entity("companies"),
            vec![
                AppWrite::Update {
                    id: AppId::new("gone"),
                    record: json!({ "Name": "Gone Ltd" }),
                },
                AppWrite::Create {
                    hub_id: HubId::new("hub-1"),
                    record: json!({ "Name": "New Ltd", "Phones": { "MOBILE": { "PhoneNumber": "555" } } }),
                    attempt: 0,
                },
                AppWrite::Update {
                    id: AppId::new("c-2"),
                    record: json!({ "Name": "Kept Ltd" }),
                },
            ],
        )
        .await
        .unwrap();
    assert!(matches!(results[0], Err(AppWriteFailure::NotFound)));
    let created = results[1].as_ref().unwrap();
    assert_eq!(created.kind, AppWriteKind::Created);
    // The outcome is the companies part: phones keyed again.
    assert_eq!(created.record["Phones"]["MOBILE"]["PhoneNumber"], "555");
    let updated = results[2].as_ref().unwrap();
    assert_eq!(updated.kind, AppWriteKind::Updated);
    assert_eq!(updated.record["ContactID"], "c-2");

    let seen = server.seen();
    // Creates (with a key, without an id), then the updates (404), then each update alone.
    let create = &seen[0];
    assert!(create.header("idempotency-key").is_some());
    assert_eq!(
        create.body["Contacts"],
        json!([{ "Name": "New Ltd", "Phones": [{ "PhoneType": "MOBILE", "PhoneNumber": "555" }] }])
    );
    let updates: Vec<&Seen> = seen[1..].iter().collect();
    assert_eq!(updates.len(), 3);
    assert!(
        updates
            .iter()
            .all(|s| s.header("idempotency-key").is_none())
    );
    assert_eq!(updates[0].body["Contacts"].as_array().unwrap().len(), 2);
    assert_eq!(updates[1].body["Contacts"][0]["ContactID"], "gone");
    assert_eq!(updates[2].body["Contacts"][0]["ContactID"], "c-2");
}

fn company_with_persons() -> Value {
    json!({
        "ContactID": "c-1", "Name": "Acme Ltd", "ContactStatus": "ACTIVE",
        "UpdatedDateUTC": "/Date(1503348544227+0000)/",
        "ContactPersons": [
            { "FirstName": "Bo", "LastName": "Ng", "EmailAddress": "bo@acme.test", "IncludeInEmails": true },
            { "FirstName": "Cy", "LastName": "Ito", "EmailAddress": "cy@acme.test" },
        ],
    })
}

#[tokio::test]
async fn person_writes_join_back_into_their_company_contact() {
    let server = serve(|seen| match seen.method.as_str() {
        "GET" => Answer::ok(json!({ "Contacts": [company_with_persons()] })),
        _ => Answer::ok(echo(seen, "Contacts", "ContactID")),
    })
    .await;
    let xero = connector(&server.url, 100);
    let bo = member_id("c-1", "bo@acme.test");
    let results = xero
        .write(
            &entity("persons"),
            vec![
                AppWrite::Update {
                    id: AppId::new(bo.clone()),
                    record: json!({ "FirstName": "Bo", "LastName": "Ng-Smith", "EmailAddress": "bo@acme.test",
                                    "ParentContactID": "c-1", "ContactStatus": "ACTIVE" }),
                },
                AppWrite::Create {
                    hub_id: HubId::new("hub-ed"),
                    record: json!({ "FirstName": "Ed", "LastName": "Wu", "EmailAddress": "ed@acme.test",
                                    "ParentContactID": "c-1" }),
                    attempt: 0,
                },
                AppWrite::Create {
                    hub_id: HubId::new("hub-ann"),
                    record: json!({ "FirstName": "Ann", "LastName": "Lee", "EmailAddress": "ann@example.test" }),
                    attempt: 0,
                },
            ],
        )
        .await
        .unwrap();
    let seen = server.seen();
    let gets: Vec<&Seen> = seen.iter().filter(|s| s.method == "GET").collect();
    assert_eq!(gets.len(), 1);
    assert_eq!(gets[0].query("IDs"), Some("c-1"));
    let posts: Vec<&Seen> = seen.iter().filter(|s| s.method == "POST").collect();
    assert_eq!(posts.len(), 2);
    // The person without a company: a contact of its own, named "First Last".
    let standalone = posts
        .iter()
        .find(|p| p.body["Contacts"][0].get("Name").is_some())
        .unwrap();
    assert_eq!(standalone.body["Contacts"][0]["Name"], "Ann Lee");
    // The company gets its whole array: Bo changed, Cy kept, Ed added; no other field.
    let joined = posts
        .iter()
        .find(|p| p.body["Contacts"][0]["ContactID"] == "c-1")
        .unwrap();
    assert_eq!(
        joined.body["Contacts"],
        json!([{ "ContactID": "c-1", "ContactPersons": [
            { "FirstName": "Bo", "LastName": "Ng-Smith", "EmailAddress": "bo@acme.test", "IncludeInEmails": true },
            { "FirstName": "Cy", "LastName": "Ito", "EmailAddress": "cy@acme.test" },
            { "FirstName": "Ed", "LastName": "Wu", "EmailAddress": "ed@acme.test" },
        ]}])
    );
    assert!(joined.header("idempotency-key").is_none());

    let bo_out = results[0].as_ref().unwrap();
    assert_eq!(
        (bo_out.kind, bo_out.record["PersonID"].as_str()),
        (AppWriteKind::Updated, Some(bo.as_str()))
    );
    assert_eq!(bo_out.record["LastName"], "Ng-Smith");
    let ed_out = results[1].as_ref().unwrap();
    assert_eq!(ed_out.kind, AppWriteKind::Created);
    assert_eq!(ed_out.record["PersonID"], member_id("c-1", "ed@acme.test"));
    assert_eq!(ed_out.record["ParentContactID"], "c-1");
    let ann_out = results[2].as_ref().unwrap();
    assert_eq!(ann_out.record["PersonID"], "new-0");

    // Reading persons by id reads their parents and extracts them.
    let found = xero
        .fetch_by_ids(
            &entity("persons"),
            &[
                AppId::new(bo.clone()),
                AppId::new(member_id("c-1", "nobody")),
            ],
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["PersonID"], bo);
}

#[tokio::test]
async fn an_update_of_a_person_removed_in_xero_is_not_found_and_archiving_removes() {
    let server = serve(|seen| match seen.method.as_str() {
        "GET" => Answer::ok(json!({ "Contacts": [company_with_persons()] })),
        _ => Answer::ok(echo(seen, "Contacts", "ContactID")),
    })
    .await;
    let xero = connector(&server.url, 100);
    let results = xero
        .write(
            &entity("persons"),
            vec![AppWrite::Update {
                id: AppId::new(member_id("c-1", "gone@acme.test")),
                record: json!({ "FirstName": "Gone", "ParentContactID": "c-1" }),
            }],
        )
        .await
        .unwrap();
    assert!(matches!(results[0], Err(AppWriteFailure::NotFound)));
    assert!(
        server.seen().iter().all(|s| s.method == "GET"),
        "nothing to send"
    );

    let archived = xero
        .archive(
            &entity("persons"),
            &[AppId::new(member_id("c-1", "cy@acme.test"))],
        )
        .await
        .unwrap();
    assert!(archived[0].is_ok());
    let post = server
        .seen()
        .into_iter()
        .find(|s| s.method == "POST")
        .unwrap();
    assert_eq!(
        post.body["Contacts"][0]["ContactPersons"],
        json!([{ "FirstName": "Bo", "LastName": "Ng", "EmailAddress": "bo@acme.test", "IncludeInEmails": true }])
    );
}

#[tokio::test]
async fn invoice_lines_name_their_items_by_code() {
    let server = serve(|seen| match (seen.method.as_str(), seen.path.as_str()) {
        ("GET", "/api.xro/2.0/Items") => {
            Answer::ok(json!({ "Items": [{ "ItemID": "item-1", "Code": "W1" }] }))
        }
        _ => Answer::ok(echo(seen, "Invoices", "InvoiceID")),
    })
    .await;
    let xero = connector(&server.url, 100);
    let invoice = |item: &str| {
        json!({ "Type": "ACCREC", "Contact": { "ContactID": "c-1" }, "Status": "AUTHORISED",
                "LineItems": [{ "Description": "Widgets", "Quantity": 2, "Item": { "ItemID": item },
                                "LineItemID": [{ "id": "connec-line", "provider": "connec" }] }] })
    };
    let results = xero
        .write(
            &entity("invoices"),
            vec![
                AppWrite::Create {
                    hub_id: HubId::new("inv-1"),
                    record: invoice("item-1"),
                    attempt: 0,
                },
                AppWrite::Create {
                    hub_id: HubId::new("inv-2"),
                    record: invoice("item-unknown"),
                    attempt: 0,
                },
            ],
        )
        .await
        .unwrap();
    assert!(results[0].is_ok());
    match &results[1] {
        Err(AppWriteFailure::Rejected(e)) => assert!(e.message.contains("line 1"), "{e:?}"),
        other => panic!("{other:?}"),
    }
    let seen = server.seen();
    let gets = seen.iter().filter(|s| s.method == "GET").count();
    assert_eq!(gets, 1, "one GET /Items per write call");
    let post = seen.iter().find(|s| s.method == "POST").unwrap();
    assert_eq!(post.body["Invoices"].as_array().unwrap().len(), 1);
    assert_eq!(
        post.body["Invoices"][0]["LineItems"],
        json!([{ "Description": "Widgets", "Quantity": 2, "ItemCode": "W1" }])
    );
}

#[tokio::test]
async fn archiving_an_invoice_reads_its_status_first() {
    let server = serve(|seen| match seen.method.as_str() {
        "GET" => Answer::ok(json!({ "Invoices": [
            { "InvoiceID": "draft", "Status": "DRAFT" },
            { "InvoiceID": "authorised", "Status": "AUTHORISED" },
            { "InvoiceID": "paid", "Status": "PAID" },
            { "InvoiceID": "voided", "Status": "VOIDED" },
        ]})),
        _ => Answer::ok(echo(seen, "Invoices", "InvoiceID")),
    })
    .await;
    let xero = connector(&server.url, 100);
    let ids: Vec<AppId> = ["draft", "authorised", "paid", "voided", "missing"]
        .into_iter()
        .map(AppId::new)
        .collect();
    let results = xero.archive(&entity("invoices"), &ids).await.unwrap();
    assert!(results[0].is_ok() && results[1].is_ok() && results[3].is_ok());
    assert!(matches!(results[2], Err(AppWriteFailure::Rejected(_))));
    assert!(matches!(results[4], Err(AppWriteFailure::NotFound)));
    let post = server
        .seen()
        .into_iter()
        .find(|s| s.method == "POST")
        .unwrap();
    assert_eq!(
        post.body["Invoices"],
        json!([
            { "InvoiceID": "draft", "Status": "DELETED" },
            { "InvoiceID": "authorised", "Status": "VOIDED" },
        ])
    );
}

#[tokio::test]
async fn payments_are_put_with_the_bank_account_and_never_updated() {
    let server = serve(|seen| match seen.method.as_str() {
        "PUT" => Answer::ok(echo(seen, "Payments", "PaymentID")),
        _ => Answer::ok(json!({ "Payments": [{ "PaymentID": "p-1", "Status": "DELETED" }] })),
    })
    .await;
    let xero = connector(&server.url, 100);
    let results = xero
        .write(
            &entity("payments"),
            vec![
                AppWrite::Create {
                    hub_id: HubId::new("pay-1"),
                    record: json!({ "Amount": 25.5, "Invoice": { "InvoiceID": "inv-1" } }),
                    attempt: 0,
                },
                AppWrite::Update {
                    id: AppId::new("p-0"),
                    record: json!({ "Amount": 1 }),
                },
                AppWrite::Create {
                    hub_id: HubId::new("pay-2"),
                    record: json!({ "Amount": 25.5, "Invoice": { "InvoiceID": "inv-1" } }),
                    attempt: 0,
                },
            ],
        )
        .await
        .unwrap();
    assert!(results[0].is_ok() && results[2].is_ok());
    assert!(matches!(results[1], Err(AppWriteFailure::Rejected(_))));
    // One call per payment create: each key is the payment's own (no natural key to match on).
    let puts: Vec<Seen> = server.seen();
    assert_eq!(puts.len(), 2);
    let put = &puts[0];
    assert_eq!(
        (put.method.as_str(), put.path.as_str()),
        ("PUT", "/api.xro/2.0/Payments")
    );
    assert_eq!(put.body["Payments"].as_array().unwrap().len(), 1);
    assert_eq!(put.body["Payments"][0]["Account"], json!({ "Code": "090" }));
    let keys: Vec<&str> = puts
        .iter()
        .filter_map(|p| p.header("idempotency-key"))
        .collect();
    assert_eq!(keys.len(), 2);
    assert_ne!(
        keys[0], keys[1],
        "same content, other hub record: another key"
    );

    let archived = xero
        .archive(&entity("payments"), &[AppId::new("p-1")])
        .await
        .unwrap();
    assert!(archived[0].is_ok());
    let post = &server.seen()[2];
    assert_eq!(
        (post.method.as_str(), post.path.as_str()),
        ("POST", "/api.xro/2.0/Payments/p-1")
    );
    assert_eq!(post.body, json!({ "Status": "DELETED" }));
}
