//! Xero emulator: contacts over real HTTP — envelope, paging with If-Modified-Since and
//! order, filters, archiving, inverted verbs, unique names, summarizeErrors both ways,
//! faults, statistics and the admin routes.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

#[path = "support/xero_api.rs"]
mod xero_api;
use xero_api::Api;

fn names(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["Name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn ms_of(date: &Value) -> i64 {
    let s = date.as_str().unwrap();
    let inner = s
        .strip_prefix("/Date(")
        .unwrap()
        .strip_suffix(")/")
        .unwrap();
    inner.split(['+', '-']).next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn envelope_paging_if_modified_since_and_order() {
    let mut api = Api::new().await;
    for i in 0..5 {
        api.emu
            .seed("Contacts", json!({ "Name": format!("Old {i}") }));
    }
    api.emu.advance(Duration::from_secs(3600));
    // The first token expired meanwhile.
    api.token = api.emu.grant(&[&api.tenant]).access_token;
    let since_ms = api.emu.now_ms();
    // One millisecond apart (stamps within one tie), for the strict date order below.
    for i in 0..7 {
        api.emu
            .seed("Contacts", json!({ "Name": format!("New {i}") }));
        api.emu.advance(Duration::from_millis(1));
    }
    // Touch an old one after the cut-off: it is listed, last by UpdatedDateUTC.
    let old0 = api.emu.records("Contacts")[0]["ContactID"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, _) = api
        .post(
            &format!("Contacts/{old0}"),
            json!({ "Contacts": [{ "EmailAddress": "old0@example.com" }] }),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    let (s, all) = api.get("Contacts").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(all["Status"], "OK");
    assert_eq!(all["ProviderName"], "Xero API Partner");
    assert!(all["DateTimeUTC"].as_str().unwrap().starts_with("/Date("));
    assert!(all["Id"].is_string());
    assert_eq!(all["Contacts"].as_array().unwrap().len(), 12);
    let c0 = &all["Contacts"][0];
    assert!(c0["UpdatedDateUTC"].as_str().unwrap().ends_with("+0000)/"));
    assert_eq!(c0["ContactStatus"], "ACTIVE");
    assert_eq!(c0["HasValidationErrors"], false);

    let since = chrono::DateTime::from_timestamp_millis(since_ms)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let path = "Contacts?page=1&pageSize=3&order=UpdatedDateUTC%20ASC";
    let (s, p1) = api.get_since(path, &since).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        p1["pagination"],
        json!({ "page": 1, "pageSize": 3, "pageCount": 3, "itemCount": 8 })
    );
    assert_eq!(names(&p1, "Contacts"), ["New 0", "New 1", "New 2"]);
    let (_, p3) = api
        .get_since(
            "Contacts?page=3&pageSize=3&order=UpdatedDateUTC%20ASC",
            &since,
        )
        .await;
    assert_eq!(names(&p3, "Contacts"), ["New 6", "Old 0"]);
    let (_, p4) = api
        .get_since(
            "Contacts?page=4&pageSize=3&order=UpdatedDateUTC%20ASC",
            &since,
        )
        .await;
    assert!(p4["Contacts"].as_array().unwrap().is_empty());
    // Dates ascending across the whole window.
    let (_, every) = api
        .get_since("Contacts?order=UpdatedDateUTC%20DESC", &since)
        .await;
    let stamps: Vec<i64> = every["Contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| ms_of(&c["UpdatedDateUTC"]))
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] > w[1]));
    assert!(stamps.iter().all(|s| *s >= since_ms));
    // Default page size 100.
    let (_, d) = api.get("Contacts?page=1").await;
    assert_eq!(d["pagination"]["pageSize"], 100);

    // IDs and where.
    let (_, by_ids) = api.get(&format!("Contacts?IDs={old0}")).await;
    assert_eq!(names(&by_ids, "Contacts"), ["Old 0"]);
    let (_, by_where) = api
        .get("Contacts?where=EmailAddress%3D%3D%22old0%40example.com%22")
        .await;
    assert_eq!(names(&by_where, "Contacts"), ["Old 0"]);
    let (_, by_name) = api.get("Contacts?where=Name%3D%3D%22New%203%22").await;
    assert_eq!(names(&by_name, "Contacts"), ["New 3"]);
    let (_, searched) = api.get("Contacts?searchTerm=OLD0%40example").await;
    assert_eq!(names(&searched, "Contacts"), ["Old 0"]);
    let (s, one) = api.get(&format!("Contacts/{old0}")).await;
    assert_eq!(
        (s, names(&one, "Contacts")),
        (StatusCode::OK, vec!["Old 0".to_owned()])
    );
    let (s, _) = api
        .get("Contacts/00000000-0000-0000-0000-000000000001")
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn archived_contacts_are_listed_only_when_asked() {
    let api = Api::new().await;
    let c = api.emu.seed("Contacts", json!({ "Name": "Gone Ltd" }));
    let id = c["ContactID"].as_str().unwrap();
    let (s, v) = api
        .post(
            "Contacts",
            json!({ "Contacts": [{ "ContactID": id, "ContactStatus": "ARCHIVED" }] }),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["Contacts"][0]["ContactStatus"], "ARCHIVED");
    let (_, listed) = api.get("Contacts").await;
    assert!(listed["Contacts"].as_array().unwrap().is_empty());
    let (_, listed) = api.get("Contacts?includeArchived=true").await;
    assert_eq!(names(&listed, "Contacts"), ["Gone Ltd"]);
    // The name is free again among active contacts.
    let (s, _) = api
        .put("Contacts", json!({ "Contacts": [{ "Name": "Gone Ltd" }] }))
        .await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn put_creates_only_post_creates_or_updates_and_names_are_unique() {
    let api = Api::new().await;
    let (s, created) = api
        .put(
            "Contacts",
            json!({ "Contacts": [{
                "Name": "Acme Ltd", "FirstName": "Ann", "LastName": "Smith",
                "EmailAddress": "ann@acme.test",
                "ContactPersons": [{ "FirstName": "Bob", "LastName": "Jones",
                    "EmailAddress": "bob@acme.test", "IncludeInEmails": true }],
                "Phones": [{ "PhoneType": "MOBILE", "PhoneNumber": "555-1212" }],
                "IsCustomer": true
            }] }),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{created}");
    let c = &created["Contacts"][0];
    let id = c["ContactID"].as_str().unwrap().to_owned();
    assert_eq!(c["ContactPersons"][0]["EmailAddress"], "bob@acme.test");
    assert_eq!(c["IsCustomer"], false, "derived, never written");
    assert_eq!(c["IsSupplier"], false);

    // PUT with an existing id refuses; POST with it updates.
    let (s, err) = api
        .put(
            "Contacts",
            json!({ "Contacts": [{ "ContactID": id, "Name": "Acme Two" }] }),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(err["Type"], "ValidationException");
    let message = err["Elements"][0]["ValidationErrors"][0]["Message"]
        .as_str()
        .unwrap();
    assert!(message.contains("PUT only creates"), "{message}");
    let (s, upd) = api
        .post(
            "Contacts",
            json!({ "Contacts": [{ "ContactID": id, "EmailAddress": "new@acme.test" }] }),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let u = &upd["Contacts"][0];
    assert_eq!(
        (u["Name"].as_str(), u["EmailAddress"].as_str()),
        (Some("Acme Ltd"), Some("new@acme.test"))
    );
    assert!(ms_of(&u["UpdatedDateUTC"]) > ms_of(&c["UpdatedDateUTC"]));
    // POST without an id creates.
    let (s, _) = api
        .post("Contacts", json!({ "Contacts": [{ "Name": "Beta Ltd" }] }))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(api.emu.records("Contacts").len(), 2);

    // A second contact with the same name is a validation error, whatever the case.
    let (s, err) = api
        .post("Contacts", json!({ "Contacts": [{ "Name": "ACME LTD" }] }))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(err["ErrorNumber"], 10);
    assert_eq!(err["Message"], "A validation exception occurred");
    let el = &err["Elements"][0];
    assert_eq!(el["Name"], "ACME LTD");
    assert_eq!(el["HasValidationErrors"], true);
    assert_eq!(
        el["ValidationErrors"][0]["Message"],
        "The contact name ACME LTD is already assigned to another contact. The contact name must be unique across all active contacts."
    );
    // Renaming onto another's name too.
    let (s, _) = api
        .post(
            &format!("Contacts/{id}"),
            json!({ "Contacts": [{ "Name": "Beta Ltd" }] }),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(api.emu.records("Contacts").len(), 2);
}

#[tokio::test]
async fn summarize_errors_both_ways() {
    let api = Api::new().await;
    let batch: Vec<Value> = (0..50)
        .map(|i| {
            if i == 17 {
                json!({ "Name": "Bad", "EmailAddress": "not-an-email" })
            } else {
                json!({ "Name": format!("Batch {i}") })
            }
        })
        .collect();
    // Default (summarizeErrors=true): 400, nothing saved, only the bad element listed.
    let (s, err) = api
        .post("Contacts", json!({ "Contacts": batch.clone() }))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let els = err["Elements"].as_array().unwrap();
    assert_eq!(els.len(), 1);
    assert_eq!(els[0]["Name"], "Bad");
    assert_eq!(els[0]["ContactID"], "00000000-0000-0000-0000-000000000000");
    assert_eq!(
        els[0]["ValidationErrors"][0]["Message"],
        "Email address must be valid."
    );
    assert!(api.emu.records("Contacts").is_empty());

    // summarizeErrors=false: 200, 49 saved, each element with its status.
    let (s, v) = api
        .post(
            "Contacts?summarizeErrors=false",
            json!({ "Contacts": batch }),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let els = v["Contacts"].as_array().unwrap();
    assert_eq!(els.len(), 50);
    for (i, el) in els.iter().enumerate() {
        if i == 17 {
            assert_eq!(el["StatusAttributeString"], "ERROR");
            assert_eq!(el["HasValidationErrors"], true);
            assert_eq!(
                el["ValidationErrors"][0]["Message"],
                "Email address must be valid."
            );
        } else {
            assert_eq!(el["StatusAttributeString"], "OK", "{i}");
            assert_eq!(el["HasValidationErrors"], false);
            assert!(
                el["ContactID"]
                    .as_str()
                    .is_some_and(|id| !id.starts_with("00000000"))
            );
        }
    }
    assert_eq!(api.emu.records("Contacts").len(), 49);
}

#[tokio::test]
async fn faults_and_stats() {
    let api = Api::new().await;
    api.emu
        .fail_record(emulators::RecordFault::new("Name", "Refuse Me"));
    let (s, v) = api
        .post(
            "Contacts?summarizeErrors=false",
            json!({ "Contacts": [{ "Name": "Refuse Me" }, { "Name": "Fine" }] }),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["Contacts"][0]["StatusAttributeString"], "ERROR");
    assert_eq!(v["Contacts"][1]["StatusAttributeString"], "OK");
    api.emu
        .fail_calls(emulators::CallFault::status("/Invoices", 503, 1));
    let (s, _) = api.get("Invoices").await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    let (s, _) = api.get("Invoices").await;
    assert_eq!(s, StatusCode::OK);
    let stats = api.emu.stats();
    assert_eq!(stats.by_route["GET /api.xro/2.0/Invoices"], 2);
    assert_eq!(stats.by_route["POST /api.xro/2.0/Contacts"], 1);
    assert_eq!(stats.rejected, 1);
    // Admin seed and state over HTTP.
    let tenant = api.tenant.clone();
    let r = api
        .c
        .post(format!(
            "{}/_emulator/seed/{tenant}/Items",
            api.srv.base_url
        ))
        .json(&json!([{ "Code": "A1" }, { "Code": "A2" }]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let state: Value = api
        .c
        .get(format!("{}/_emulator/state", api.srv.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["tenants"][0]["Items"].as_array().unwrap().len(), 2);
    assert_eq!(state["tenants"][0]["Contacts"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_organisation_and_its_accounts() {
    let api = Api::new().await;
    let (s, org) = api.get("Organisation").await;
    assert_eq!(s, StatusCode::OK);
    let o = &org["Organisations"][0];
    assert_eq!(o["OrganisationID"], api.tenant.as_str());
    assert_eq!(o["Name"], "Demo Company (NZ)");
    assert_eq!(o["BaseCurrency"], "NZD");
    let (s, acc) = api.get("Accounts").await;
    assert_eq!(s, StatusCode::OK);
    let banks: Vec<&str> = acc["Accounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["Type"] == "BANK")
        .map(|a| a["Code"].as_str().unwrap())
        .collect();
    assert_eq!(banks, ["090", "091"]);
}
