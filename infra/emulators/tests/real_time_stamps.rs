//! Stamps are real time (issue 11): after a burst of writes no record of any emulator is
//! stamped later than the clock read after the burst, and paging through records that share
//! one millisecond returns each of them exactly once (Connec! `$skip`, HubSpot search `after`,
//! Xero pages), because every order the emulators page on breaks ties by a sequence or an id.
//!
//! A burst of 20,000 writes takes far less than 20,000 ms here, so a clock that made each stamp
//! strictly greater than the last would run seconds ahead of real time by its end.

#[path = "support/xero_api.rs"]
mod xero_api;

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use emulators::{ConnecEmulator, HubSpotEmulator};
use reqwest::Client;
use serde_json::{Value, json};
use xero_api::Api as Xero;

const BURST: usize = 20_000;
const G: &str = "g";

fn instant(v: &Value) -> DateTime<Utc> {
    let s = v.as_str().unwrap_or_else(|| panic!("not a date: {v}"));
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// `/Date(ms+0000)/` -> ms.
fn xero_ms(v: &Value) -> i64 {
    let s = v.as_str().unwrap();
    let inner = s
        .strip_prefix("/Date(")
        .unwrap()
        .strip_suffix(")/")
        .unwrap();
    inner.split('+').next().unwrap().parse().unwrap()
}

/// Asserts `ids` holds each of `want` exactly once.
fn exactly_once(ids: &[String], want: usize) {
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "a record came twice");
    assert_eq!(ids.len(), want, "a record was skipped");
}

#[tokio::test]
async fn connec_burst_stamps_no_record_in_the_future() {
    let emu = ConnecEmulator::default();
    for i in 0..BURST {
        emu.seed(G, "people", json!({ "first_name": format!("P{i}") }));
    }
    let records = emu.records(G, "people");
    // Updates of half of them, still in the burst.
    for r in records.iter().step_by(2) {
        let id = r["id"][0]["id"].as_str().unwrap();
        emu.update(G, "people", id, json!({ "last_name": "L" }))
            .unwrap();
    }
    let after = Utc::now();
    let records = emu.records(G, "people");
    assert_eq!(records.len(), BURST);
    for r in &records {
        assert!(instant(&r["created_at"]) <= after, "{}", r["created_at"]);
        assert!(instant(&r["updated_at"]) <= after, "{}", r["updated_at"]);
        assert!(instant(&r["updated_at"]) >= instant(&r["created_at"]));
    }
}

#[tokio::test]
async fn hubspot_burst_stamps_no_object_in_the_future() {
    let emu = HubSpotEmulator::default();
    let mut ids = Vec::new();
    for i in 0..BURST {
        let o = emu.seed("contacts", json!({ "email": format!("c{i}@x.io") }));
        ids.push(o["id"].as_str().unwrap().to_owned());
    }
    for id in ids.iter().step_by(2) {
        emu.update("contacts", id, json!({ "firstname": "F" }))
            .unwrap();
    }
    let after = Utc::now();
    let objs = emu.objects("contacts");
    assert_eq!(objs.len(), BURST);
    for o in &objs {
        assert!(instant(&o["updatedAt"]) <= after, "{}", o["updatedAt"]);
        assert!(instant(&o["createdAt"]) <= after, "{}", o["createdAt"]);
    }
}

#[tokio::test]
async fn xero_burst_stamps_no_record_in_the_future() {
    let api = Xero::new().await;
    for i in 0..BURST {
        api.emu
            .seed("Contacts", json!({ "Name": format!("Contact {i}") }));
    }
    let after = Utc::now().timestamp_millis();
    let recs = api.emu.records("Contacts");
    assert_eq!(recs.len(), BURST);
    for r in &recs {
        assert!(
            xero_ms(&r["UpdatedDateUTC"]) <= after,
            "{}",
            r["UpdatedDateUTC"]
        );
    }
    // The emulator's own now is real time too (no advance here).
    assert!(api.emu.now_ms() <= Utc::now().timestamp_millis());
}

#[tokio::test]
async fn connec_skip_paging_through_one_millisecond_returns_each_once() {
    let emu = ConnecEmulator::default();
    let srv = emu.start().await.unwrap();
    // A bulk import: every record in one millisecond.
    emu.set_time(Some(Utc::now()));
    for i in 0..1_050 {
        emu.seed(G, "people", json!({ "first_name": format!("P{i}") }));
    }
    emu.set_time(None);
    let c = Client::new();
    for order in ["updated_at asc", "created_at asc", "created_at asc, id asc"] {
        for filter in ["", "updated_at gt '2000-01-01T00:00:00Z'"] {
            let mut ids = Vec::new();
            let mut skip = 0;
            loop {
                let mut q = vec![
                    ("$orderby", order.to_owned()),
                    ("$skip", skip.to_string()),
                    ("$top", "100".to_owned()),
                ];
                if !filter.is_empty() {
                    q.push(("$filter", filter.to_owned()));
                }
                let v: Value = c
                    .get(format!("{}/api/v2/{G}/people", srv.base_url))
                    .basic_auth("demo-id", Some("demo-key"))
                    .query(&q)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let page = v["people"].as_array().unwrap();
                ids.extend(page.iter().map(|r| r["id"].as_str().unwrap().to_owned()));
                if v["pagination"]["next"].is_null() {
                    break;
                }
                skip += 100;
            }
            exactly_once(&ids, 1_050);
        }
    }
}

#[tokio::test]
async fn hubspot_after_paging_through_one_millisecond_returns_each_once() {
    let emu = HubSpotEmulator::default();
    let srv = emu.start().await.unwrap();
    let at = Utc::now().timestamp_millis();
    for i in 0..1_050 {
        let o = emu.seed("contacts", json!({ "email": format!("c{i}@x.io") }));
        assert!(emu.set_last_modified("contacts", o["id"].as_str().unwrap(), at));
    }
    let c = Client::new();
    let bodies = [
        // The index's own page (last-modified range in last-modified order).
        json!({ "filterGroups": [{ "filters": [
            { "propertyName": "lastmodifieddate", "operator": "GTE", "value": at.to_string() }
        ]}], "sorts": [{ "propertyName": "lastmodifieddate", "direction": "ASCENDING" }] }),
        // The evaluated twin (a first filter the index does not serve).
        json!({ "filterGroups": [{ "filters": [
            { "propertyName": "email", "operator": "HAS_PROPERTY" },
            { "propertyName": "lastmodifieddate", "operator": "GTE", "value": at.to_string() }
        ]}], "sorts": [{ "propertyName": "lastmodifieddate", "direction": "ASCENDING" }] }),
    ];
    for body in bodies {
        let mut ids = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut b = body.clone();
            b["limit"] = json!(100);
            if let Some(a) = &after {
                b["after"] = json!(a);
            }
            let v: Value = c
                .post(format!("{}/crm/v3/objects/contacts/search", srv.base_url))
                .bearer_auth("demo-token")
                .json(&b)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let page = v["results"].as_array().unwrap();
            ids.extend(page.iter().map(|o| o["id"].as_str().unwrap().to_owned()));
            match v["paging"]["next"]["after"].as_str() {
                Some(a) => after = Some(a.to_owned()),
                None => break,
            }
        }
        exactly_once(&ids, 1_050);
    }
    // List paging (by id).
    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut url = format!("{}/crm/v3/objects/contacts?limit=100", srv.base_url);
        if let Some(a) = &after {
            url.push_str(&format!("&after={a}"));
        }
        let v: Value = c
            .get(url)
            .bearer_auth("demo-token")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let page = v["results"].as_array().unwrap();
        ids.extend(page.iter().map(|o| o["id"].as_str().unwrap().to_owned()));
        match v["paging"]["next"]["after"].as_str() {
            Some(a) => after = Some(a.to_owned()),
            None => break,
        }
    }
    exactly_once(&ids, 1_050);
}

#[tokio::test]
async fn xero_pages_through_a_burst_return_each_once() {
    let api = Xero::new().await;
    let since = "2000-01-01T00:00:00";
    for i in 0..2_050 {
        api.emu
            .seed("Contacts", json!({ "Name": format!("Contact {i}") }));
    }
    for path in [
        "Contacts?pageSize=100&order=UpdatedDateUTC%20ASC",
        "Contacts?pageSize=100",
        "Contacts?pageSize=100&order=UpdatedDateUTC%20DESC",
    ] {
        let mut ids = Vec::new();
        for page in 1.. {
            let (s, v) = api.get_since(&format!("{path}&page={page}"), since).await;
            assert!(s.is_success(), "{s}");
            let recs = v["Contacts"].as_array().unwrap();
            if recs.is_empty() {
                break;
            }
            ids.extend(
                recs.iter()
                    .map(|r| r["ContactID"].as_str().unwrap().to_owned()),
            );
        }
        exactly_once(&ids, 2_050);
    }
}
