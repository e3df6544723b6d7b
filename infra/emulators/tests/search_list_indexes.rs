//! HubSpot searches and Xero pages served from indexes keep the answers of a full evaluation:
//! records created, changed, archived or stamped into one millisecond between pages.
//!
//! Each indexed query is compared with a twin the emulator evaluates over every record (a
//! first filter no index serves, or a `where` clause every record passes: neither changes the
//! answer), and a few answers are pinned outright.

#[path = "support/xero_api.rs"]
mod xero_api;

use emulators::HubSpotEmulator;
use reqwest::Client;
use serde_json::{Value, json};
use xero_api::Api as Xero;

struct Hub {
    emu: HubSpotEmulator,
    base: String,
    c: Client,
    _srv: emulators::RunningServer,
}

impl Hub {
    async fn new() -> Self {
        let emu = HubSpotEmulator::default();
        let srv = emu.start().await.expect("start");
        Self {
            emu,
            base: srv.base_url.clone(),
            c: Client::new(),
            _srv: srv,
        }
    }

    /// `(ids, total, next after)` of a contacts search.
    async fn search(&self, body: &Value) -> (Vec<String>, u64, Option<String>) {
        let r = self
            .c
            .post(format!("{}/crm/v3/objects/contacts/search", self.base))
            .bearer_auth("demo-token")
            .json(body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
        let v: Value = r.json().await.unwrap();
        let ids = v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_owned())
            .collect();
        let next = v["paging"]["next"]["after"].as_str().map(String::from);
        (ids, v["total"].as_u64().unwrap(), next)
    }

    fn seed(&self, email: &str) -> String {
        let o = self
            .emu
            .seed("contacts", json!({ "email": email, "firstname": "F" }));
        o["id"].as_str().unwrap().to_owned()
    }
}

/// A named change made between two checks.
type Step<'a, T> = (&'a str, Box<dyn Fn(&T) + 'a>);

fn filter(name: &str, op: &str, value: Value) -> Value {
    match op {
        "IN" => json!({ "propertyName": name, "operator": op, "values": value }),
        _ => json!({ "propertyName": name, "operator": op, "value": value }),
    }
}

/// The twin of a search: `HAS_PROPERTY hs_object_id` (every object has it, no index serves
/// it) before each group's filters.
fn twin(body: &Value) -> Value {
    let mut t = body.clone();
    for g in t["filterGroups"].as_array_mut().unwrap() {
        g["filters"].as_array_mut().unwrap().insert(
            0,
            json!({ "propertyName": "hs_object_id", "operator": "HAS_PROPERTY" }),
        );
    }
    t
}

/// The searches checked, as the HubSpot connector sends them (modified since a date, by id,
/// with and without a lower id bound; match-before-create on e-mails) and a few more (keyset
/// on the last-modified date, as earlier versions sent it).
fn searches(from_ms: i64, ids: &[String]) -> Vec<Value> {
    let by = |p: &str, d: &str| json!([{ "propertyName": p, "direction": d }]);
    let emails = json!([
        "c1@x.io",
        "C3@X.IO",
        "nobody@x.io",
        "c7@x.io",
        "c7b@x.io",
        "c1b@x.io"
    ]);
    vec![
        json!({ "filterGroups": [{ "filters": [filter("lastmodifieddate", "GTE", json!(from_ms.to_string()))] }],
                "sorts": by("hs_object_id", "ASCENDING"), "limit": 3 }),
        json!({ "filterGroups": [{ "filters": [filter("lastmodifieddate", "GTE", json!(from_ms.to_string())),
                                                filter("hs_object_id", "GT", json!(ids[2]))] }],
                "sorts": by("hs_object_id", "ASCENDING"), "limit": 3 }),
        json!({ "filterGroups": [{ "filters": [filter("lastmodifieddate", "GTE", json!(from_ms.to_string()))] }],
                "sorts": by("lastmodifieddate", "ASCENDING"), "limit": 3 }),
        json!({ "filterGroups": [{ "filters": [filter("lastmodifieddate", "GT", json!(from_ms.to_string())),
                                                filter("lastmodifieddate", "LTE", json!((from_ms + 3_600_000).to_string()))] }],
                "sorts": by("lastmodifieddate", "ASCENDING"), "limit": 4 }),
        json!({ "filterGroups": [{ "filters": [filter("lastmodifieddate", "GTE", json!(from_ms.to_string())),
                                                filter("lastmodifieddate", "LTE", json!(from_ms.to_string())),
                                                filter("hs_object_id", "GT", json!(ids[1]))] }],
                "sorts": by("hs_object_id", "ASCENDING"), "limit": 2 }),
        json!({ "filterGroups": [{ "filters": [filter("email", "IN", emails.clone()),
                                                filter("hs_object_id", "GT", json!(ids[0]))] },
                                 { "filters": [filter("firstname", "EQ", json!("g"))] }],
                "sorts": by("hs_object_id", "ASCENDING"), "limit": 2 }),
        json!({ "filterGroups": [{ "filters": [filter("hs_object_id", "LTE", json!(ids[6]))] }],
                "sorts": by("lastmodifieddate", "DESCENDING"), "limit": 3 }),
        json!({ "filterGroups": [{ "filters": [filter("email", "EQ", json!("C2@x.io"))] }], "limit": 5 }),
    ]
}

/// Every search, paged by its `after`, equals its twin.
async fn check(hub: &Hub, from_ms: i64, ids: &[String], step: &str) {
    for body in searches(from_ms, ids) {
        let mut b = body.clone();
        loop {
            let got = hub.search(&b).await;
            let want = hub.search(&twin(&b)).await;
            assert_eq!(got, want, "{step}: {b}");
            match got.2 {
                Some(after) => b["after"] = json!(after),
                None => break,
            }
        }
    }
}

#[tokio::test]
async fn hubspot_searches_follow_every_write() {
    let hub = Hub::new().await;
    let ids: Vec<String> = (0..10).map(|i| hub.seed(&format!("c{i}@x.io"))).collect();
    let from_ms = chrono::Utc::now().timestamp_millis() - 60_000;
    check(&hub, from_ms, &ids, "seeded").await;
    let steps: Vec<Step<'_, Hub>> = vec![
        (
            "an update moves a record last",
            Box::new(|h| {
                h.emu
                    .update("contacts", &ids[2], json!({ "firstname": "G" }));
            }),
        ),
        (
            "an e-mail changes",
            Box::new(|h| {
                h.emu
                    .update("contacts", &ids[3], json!({ "email": "c1b@x.io" }));
                h.emu
                    .update("contacts", &ids[4], json!({ "email": "C7B@x.io" }));
            }),
        ),
        (
            "archived",
            Box::new(|h| {
                assert!(h.emu.archive("contacts", &ids[1]));
            }),
        ),
        (
            "a bulk import in one millisecond",
            Box::new(|h| {
                for id in &ids[5..9] {
                    assert!(h.emu.set_last_modified("contacts", id, from_ms));
                }
            }),
        ),
        (
            "created",
            Box::new(|h| {
                h.seed("C3@x.io");
            }),
        ),
    ];
    for (name, step) in &steps {
        step(&hub);
        check(&hub, from_ms, &ids, name).await;
    }
    // Pinned: the millisecond's records by id, after the archived one is gone.
    let body = json!({ "filterGroups": [{ "filters": [filter("lastmodifieddate", "EQ", json!(from_ms.to_string()))] }],
                       "sorts": [{ "propertyName": "lastmodifieddate", "direction": "ASCENDING" }], "limit": 10 });
    assert_eq!(hub.search(&body).await, (ids[5..9].to_vec(), 4, None));
    let emails = json!({ "filterGroups": [{ "filters": [filter("email", "IN", json!(["C7@X.io", "c1b@x.io", "c1@x.io"]))] }],
                         "sorts": [{ "propertyName": "hs_object_id", "direction": "ASCENDING" }], "limit": 10 });
    assert_eq!(
        hub.search(&emails).await,
        (vec![ids[3].clone(), ids[7].clone()], 2, None)
    );
}

/// `(ContactIDs, itemCount)` of one Xero page.
async fn xero_page(x: &Xero, query: &str, since: &str) -> (Vec<String>, u64) {
    let (s, v) = x.get_since(&format!("Contacts?{query}"), since).await;
    assert!(s.is_success(), "{s}: {v}");
    let ids = v["Contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["ContactID"].as_str().unwrap().to_owned())
        .collect();
    (ids, v["pagination"]["itemCount"].as_u64().unwrap_or(0))
}

#[tokio::test]
async fn xero_pages_since_a_date_follow_every_write() {
    let x = Xero::new().await;
    let ids: Vec<String> = (0..9)
        .map(|i| {
            let c = x.emu.seed("Contacts", json!({ "Name": format!("C{i}") }));
            c["ContactID"].as_str().unwrap().to_owned()
        })
        .collect();
    let since = "2000-01-01T00:00:00";
    let check = async |step: &str| {
        for size in [2, 4, 100] {
            for page in 1..=(10 / size + 1) {
                let q = format!(
                    "order=UpdatedDateUTC%20ASC&includeArchived=true&page={page}&pageSize={size}"
                );
                let got = xero_page(&x, &q, since).await;
                let want = xero_page(&x, &format!("{q}&where=Name!%3Dnull"), since).await;
                assert_eq!(got, want, "{step}: page {page} of {size}");
            }
        }
    };
    check("seeded").await;
    x.emu.seed(
        "Contacts",
        json!({ "ContactID": ids[0], "Name": "C0 renamed" }),
    );
    check("the first contact changed").await;
    x.emu.seed(
        "Contacts",
        json!({ "ContactID": ids[4], "ContactStatus": "ARCHIVED" }),
    );
    check("a contact archived").await;
    // Pinned: the changed ones come last, oldest change first.
    let q = "order=UpdatedDateUTC%20ASC&includeArchived=true&page=1&pageSize=100";
    let (order, total) = xero_page(&x, q, since).await;
    assert_eq!(total, 9);
    assert_eq!(order[7..], [ids[0].clone(), ids[4].clone()]);
    // Archived contacts are left out without `includeArchived` (not an indexed page).
    let (visible, total) =
        xero_page(&x, "order=UpdatedDateUTC%20ASC&page=1&pageSize=100", since).await;
    assert_eq!(total, 8);
    assert!(!visible.contains(&ids[4]));
}
