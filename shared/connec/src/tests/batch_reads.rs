//! `fetch_by_ids`: `get` ops in `/batch`es of `batch_size`, against the emulator and, for what
//! the emulator does not do, against [`FakeConnec`].

use serde_json::{Value, json};

use super::fake_connec::{FakeConnec, Request};
use super::{GROUP, Setup, hub_id, setup, setup_with};
use crate::*;
use emulators::CallFault;

const RECORD_ROUTE: &str = "GET /api/v2/{group_id}/{collection}/{id}";

fn seed_people(s: &Setup, n: usize) -> Vec<HubId> {
    (0..n)
        .map(|i| {
            hub_id(
                &s.emu
                    .seed(GROUP, "people", json!({ "first_name": format!("P{i}") })),
            )
        })
        .collect()
}

fn sorted_ids(found: &[Value]) -> Vec<HubId> {
    let mut ids: Vec<HubId> = found.iter().map(hub_id).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn fetch_by_ids_treats_404_as_absent_and_asks_once_per_id() {
    let s = setup().await;
    let a = hub_id(&s.emu.seed(GROUP, "people", json!({ "first_name": "A" })));
    let b = hub_id(&s.emu.seed(GROUP, "people", json!({ "first_name": "B" })));
    s.emu.reset_stats();
    let mut found = s
        .client
        .fetch_by_ids(
            &s.group,
            &s.people,
            &[a.clone(), HubId::new("missing"), b.clone(), a.clone()],
        )
        .await
        .unwrap();
    found.sort_by_key(|r| r["first_name"].as_str().map(str::to_owned));
    assert_eq!(found.iter().map(hub_id).collect::<Vec<_>>(), [a, b]);
    let stats = s.emu.stats();
    assert_eq!((stats.reads, stats.writes), (1, 0), "one /batch, a read");
    assert_eq!(stats.by_route.get("POST /batch"), Some(&1));
    assert_eq!(stats.by_route.get("batch-ops"), Some(&3), "each id once");
    assert_eq!(stats.by_route.get(RECORD_ROUTE), None, "no single GET");
}

#[tokio::test]
async fn fetch_by_ids_reads_50_ids_per_batch() {
    let s = setup().await;
    let mut people = seed_people(&s, 120);
    s.emu.reset_stats();
    let mut asked = people.clone();
    asked.extend(["gone-1", "gone-2", "gone-3"].map(HubId::new));
    let found = s
        .client
        .fetch_by_ids(&s.group, &s.people, &asked)
        .await
        .unwrap();
    people.sort();
    assert_eq!(sorted_ids(&found), people);
    assert!(
        found.iter().all(|r| r["first_name"].is_string()),
        "whole records"
    );
    let stats = s.emu.stats();
    assert_eq!(stats.by_route.get("POST /batch"), Some(&3), "50 + 50 + 23");
    assert_eq!(stats.by_route.get("batch-ops"), Some(&123));
    assert_eq!((stats.reads, stats.writes), (3, 0));
    assert_eq!(stats.by_route.get(RECORD_ROUTE), None);
}

#[tokio::test]
async fn fetch_by_ids_starts_no_further_get_after_an_error() {
    let s = setup_with(|c| {
        c.http.max_concurrency = 1;
        c.batch_size = 5;
    })
    .await;
    let ids = seed_people(&s, 20);
    s.emu.reset_stats();
    // 403: a failure, not a refusal of `get` ops in `/batch` (those fall back to GETs).
    s.emu.fail_calls(CallFault::status("/batch", 403, 1));
    let failed = s
        .client
        .fetch_by_ids(&s.group, &s.people, &ids)
        .await
        .unwrap_err();
    assert_eq!(failed.status(), Some(403));
    let stats = s.emu.stats();
    assert_eq!(
        (stats.reads, stats.by_route.get("POST /batch")),
        (1, Some(&1)),
        "one /batch in flight at a time of four, and none after the failure"
    );
}

#[tokio::test]
async fn a_batch_failing_with_5xx_fails_after_its_retries_and_no_further_batch_starts() {
    let s = setup_with(|c| {
        c.http.max_concurrency = 1;
        c.batch_size = 5;
    })
    .await;
    let ids = seed_people(&s, 20);
    s.emu.reset_stats();
    s.emu.fail_calls(CallFault::status("/batch", 503, 0));
    let failed = s
        .client
        .fetch_by_ids(&s.group, &s.people, &ids)
        .await
        .unwrap_err();
    assert_eq!(failed.status(), Some(503));
    let attempts = u64::from(HttpConfig::fast().max_retries) + 1;
    let stats = s.emu.stats();
    assert_eq!(
        stats.by_route.get("POST /batch"),
        Some(&attempts),
        "the first batch's attempts only"
    );
    assert_eq!(
        stats.by_route.get(RECORD_ROUTE),
        None,
        "no single GET replaces a failed call"
    );
}

/// A client of `fake` with `tune` applied.
fn client_of(fake: &FakeConnec, tune: impl FnOnce(&mut ConnecConfig)) -> ConnecClient {
    let mut config = ConnecConfig::new(&fake.base_url, "demo-id", "demo-key").expect("config");
    config.http = HttpConfig::fast();
    tune(&mut config);
    ConnecClient::new(config).expect("client")
}

/// The record id at the end of a path.
fn last_segment(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or_default()
}

fn person(id: &str) -> Value {
    json!({ "people": { "id": id, "first_name": id } })
}

/// `/batch`: `gone*` are 404, `refused*` 405, `odd` a 200 without the record, the others found.
/// A GET: `bad*` are 400, `refused-gone` 404, the others found.
fn refusing_connec(request: &Request) -> (u16, Value) {
    if request.target == "/batch" {
        let results: Vec<Value> = request.body["ops"]
            .as_array()
            .expect("ops")
            .iter()
            .map(|op| {
                assert_eq!(op["method"], json!("get"));
                let id = last_segment(op["url"].as_str().expect("url"));
                match id {
                    _ if id.starts_with("gone") => json!({ "status": 404, "body": {} }),
                    _ if id.starts_with("refused") || id.starts_with("bad") => json!({
                        "status": 405,
                        "body": { "errors": [{ "title": "Method get not allowed in batch" }] }
                    }),
                    "odd" => json!({ "status": 200, "body": {} }),
                    _ => json!({ "status": 200, "body": person(id) }),
                }
            })
            .collect();
        return (200, json!({ "results": results }));
    }
    match last_segment(&request.target) {
        id if id.starts_with("bad") => (400, json!({ "errors": [{ "title": "Bad" }] })),
        "refused-gone" => (404, json!({ "errors": [{ "title": "Not found" }] })),
        id => (200, person(id)),
    }
}

#[tokio::test]
async fn an_op_answered_otherwise_is_read_by_one_get() {
    let fake = FakeConnec::start(1, refusing_connec).await;
    let client = client_of(&fake, |_| {});
    let asked = [
        "a",
        "gone",
        "refused-1",
        "refused-gone",
        "odd",
        "b",
        "refused-1",
    ]
    .map(HubId::new);
    let found = client
        .fetch_by_ids(&GroupId::new(GROUP), &EntityName::new("people"), &asked)
        .await
        .unwrap();
    let mut names: Vec<&str> = found
        .iter()
        .map(|r| r["first_name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["a", "b", "odd", "refused-1"]);
    let mut calls = fake.calls();
    calls.sort();
    assert_eq!(
        calls,
        [
            "GET /api/v2/cld-test/people/odd",
            "GET /api/v2/cld-test/people/refused-1",
            "GET /api/v2/cld-test/people/refused-gone",
            "POST /batch",
        ],
        "one /batch; a GET for each op not answered with the record or 404"
    );
}

#[tokio::test]
async fn a_failing_fallback_get_fails_the_read_and_starts_no_further_call() {
    let fake = FakeConnec::start(1, refusing_connec).await;
    let client = client_of(&fake, |c| {
        c.http.max_concurrency = 1;
        c.batch_size = 2;
    });
    let asked = ["bad-1", "a", "b", "c", "d", "e"].map(HubId::new);
    let failed = client
        .fetch_by_ids(&GroupId::new(GROUP), &EntityName::new("people"), &asked)
        .await
        .unwrap_err();
    assert_eq!(failed.status(), Some(400));
    assert_eq!(
        fake.calls(),
        ["POST /batch", "GET /api/v2/cld-test/people/bad-1"],
        "the first of three batches, its fallback, and nothing after"
    );
}

#[tokio::test]
async fn batches_travel_at_once_up_to_max_concurrency() {
    let fake = FakeConnec::start(3, refusing_connec).await;
    let client = client_of(&fake, |c| {
        c.http.max_concurrency = 3;
        c.batch_size = 5;
    });
    let asked: Vec<HubId> = (0..45).map(|i| HubId::new(format!("p{i}"))).collect();
    let found = client
        .fetch_by_ids(&GroupId::new(GROUP), &EntityName::new("people"), &asked)
        .await
        .unwrap();
    assert_eq!(found.len(), 45);
    let batches = fake.requests();
    assert_eq!(batches.len(), 9);
    assert!(
        batches
            .iter()
            .all(|r| r.body["ops"].as_array().unwrap().len() == 5)
    );
    assert_eq!(fake.max_in_flight(), 3, "three at once, never more");
}

/// A Connec! refusing every `/batch` as a whole with `status`; GETs answered.
fn refusing_batches(status: u16) -> impl Fn(&Request) -> (u16, Value) + Send + Sync + 'static {
    move |request: &Request| {
        if request.target == "/batch" {
            (
                status,
                json!({ "errors": [{ "title": "Unsupported batch operation" }] }),
            )
        } else {
            (200, person(last_segment(&request.target)))
        }
    }
}

#[tokio::test]
async fn a_batch_refused_as_a_whole_is_read_by_gets_and_so_are_later_reads() {
    for status in [400, 405, 422, 501] {
        let fake = FakeConnec::start(1, refusing_batches(status)).await;
        let client = client_of(&fake, |c| c.batch_size = 2);
        let (group, people) = (GroupId::new(GROUP), EntityName::new("people"));
        let first = client
            .fetch_by_ids(&group, &people, &["a", "b", "c"].map(HubId::new))
            .await
            .unwrap();
        assert_eq!(
            sorted_ids(&first),
            ["a", "b", "c"].map(HubId::new),
            "{status}"
        );
        let batches =
            |fake: &FakeConnec| fake.calls().iter().filter(|c| *c == "POST /batch").count();
        let after_first = batches(&fake);
        // Two chunks in flight together may both be refused (a 501 after its retries, as any
        // 5xx).
        assert!(after_first >= 1, "{status}: {:?}", fake.calls());
        // A clone shares what the client learnt.
        let later = client
            .clone()
            .fetch_by_ids(&group, &people, &["d", "e", "f"].map(HubId::new))
            .await
            .unwrap();
        assert_eq!(
            sorted_ids(&later),
            ["d", "e", "f"].map(HubId::new),
            "{status}"
        );
        assert_eq!(
            batches(&fake),
            after_first,
            "{status}: no /batch once refused"
        );
        assert_eq!(
            fake.calls().len(),
            after_first + 6,
            "{status}: one GET per id"
        );
    }
}
