//! Connec! listings served from their indexes keep the order of a filter-and-sort over the
//! records: records created, changed and written back between pages, ties on timestamps
//! (pinned clock, natural order), `desc` keys and `updated_at` filters.
//!
//! Each indexed listing is compared, page by page, with a twin the emulator computes by
//! scanning (an extra `eq` clause that every record passes, or a trailing key that ties for
//! every record: neither changes the answer, both bypass the index), and a few orders are also
//! pinned outright.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use emulators::{ConnecEmulator, RunningServer};
use reqwest::Client;
use serde_json::{Value, json};

const G: &str = "g";

struct Api {
    emu: ConnecEmulator,
    srv: RunningServer,
    c: Client,
}

impl Api {
    async fn new() -> Self {
        let emu = ConnecEmulator::default();
        let srv = emu.start().await.expect("start");
        Self {
            emu,
            srv,
            c: Client::new(),
        }
    }

    async fn list(&self, filter: &str, order: &str, skip: usize, top: usize) -> Value {
        let mut q = vec![
            ("$orderby", order.to_owned()),
            ("$skip", skip.to_string()),
            ("$top", top.to_string()),
        ];
        if !filter.is_empty() {
            q.push(("$filter", filter.to_owned()));
        }
        let r = self
            .c
            .get(format!("{}/api/v2/{G}/people", self.srv.base_url))
            .basic_auth("demo-id", Some("demo-key"))
            .query(&q)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
        r.json().await.unwrap()
    }

    /// `(ids of the page, total)`.
    async fn page(&self, filter: &str, order: &str, skip: usize, top: usize) -> (Vec<String>, u64) {
        let v = self.list(filter, order, skip, top).await;
        let ids = v["people"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect();
        (ids, v["pagination"]["total"].as_u64().unwrap())
    }

    fn seed(&self, name: &str) -> String {
        let p = self.emu.seed(G, "people", json!({ "first_name": name }));
        p["id"][0]["id"].as_str().unwrap().to_owned()
    }

    fn touch(&self, id: &str, name: &str) {
        self.emu
            .update(G, "people", id, json!({ "last_name": name }))
            .expect("record");
    }
}

/// A named change made between two checks, given the seeded ids.
type Step<'a> = (&'a str, Box<dyn Fn(&Api, &[String]) + 'a>);

/// A scanned twin of an indexed listing: same answer, no index.
fn twin(filter: &str, order: &str) -> (String, String) {
    // Every record of the group passes `group_id eq`, and no record stores `group_id`: as a
    // sort key it ties everywhere.
    let filter = if filter.is_empty() {
        format!("group_id eq '{G}'")
    } else {
        format!("{filter} and group_id eq '{G}'")
    };
    (filter, format!("{order}, group_id asc"))
}

/// The listings checked: `(filter, order)`; `{mark}` is replaced by an instant.
const LISTINGS: [(&str, &str); 7] = [
    ("", "created_at asc, id asc"),
    ("", "created_at asc"),
    ("", "updated_at asc"),
    ("", "updated_at desc"),
    ("", "id desc"),
    ("updated_at gt '{mark}'", "created_at asc, id asc"),
    ("updated_at ge '{mark}'", "updated_at asc, id desc"),
];

/// The listing, paged by `top`, equals its twin.
async fn check(api: &Api, (filter, order): (&str, &str), mark: &str, top: usize, step: &str) {
    {
        let filter = filter.replace("{mark}", mark);
        let (tf, to) = twin(&filter, order);
        let mut skip = 0;
        loop {
            let got = api.page(&filter, order, skip, top).await;
            let want = api.page(&tf, &to, skip, top).await;
            assert_eq!(got, want, "{step}: `{filter}` by `{order}` from {skip}");
            skip += top;
            if skip >= got.1 as usize {
                break;
            }
        }
    }
}

#[tokio::test]
async fn indexed_listings_follow_every_write() {
    // One emulator per listing: its index then lives through every step (an emulator keeps a
    // few listings' indexes, and one built afresh would prove nothing about the writes).
    for listing in LISTINGS {
        follow_writes(listing).await;
    }
}

async fn follow_writes(listing: (&str, &str)) {
    let api = Api::new().await;
    let t0 = Utc::now().trunc_subsecs(0) - Duration::hours(1);
    let mut ids = Vec::new();
    // A bulk import in one second: ties on both timestamps.
    api.emu.set_time(Some(t0));
    for i in 0..12 {
        ids.push(api.seed(&format!("bulk{i}")));
    }
    api.emu.set_time(None);
    for i in 0..12 {
        ids.push(api.seed(&format!("live{i}")));
    }
    let mark = (Utc::now() - Duration::milliseconds(1)).to_rfc3339();
    check(&api, listing, &mark, 5, "seeded").await;

    // Each step changes the records between two readings of every listing.
    let steps: Vec<Step<'_>> = vec![
        (
            "update a tied record",
            Box::new(|a, ids| a.touch(&ids[3], "x")),
        ),
        (
            "update a record twice",
            Box::new(|a, ids| {
                a.touch(&ids[15], "y");
                a.touch(&ids[15], "z");
            }),
        ),
        (
            "same content again (no write)",
            Box::new(|a, ids| a.touch(&ids[15], "z")),
        ),
        (
            "an id write-back",
            Box::new(|a, ids| {
                a.emu.update(
                    G,
                    "people",
                    &ids[0],
                    json!({ "id": [{ "id": "h1", "provider": "hubspot", "realm": "p" }] }),
                );
            }),
        ),
        (
            "new records, one pinned into the old second",
            Box::new(|a, _| {
                a.seed("new1");
                a.emu
                    .set_time(Some(Utc::now().trunc_subsecs(0) - Duration::hours(1)));
                a.seed("new2");
                a.emu.set_time(None);
            }),
        ),
        (
            "a record goes INACTIVE",
            Box::new(|a, ids| {
                a.emu
                    .update(G, "people", &ids[20], json!({ "status": "INACTIVE" }));
            }),
        ),
        (
            "ties on updated_at (pinned clock)",
            Box::new(|a, ids| {
                a.emu.set_time(Some(Utc::now().trunc_subsecs(0)));
                for id in &ids[5..9] {
                    a.touch(id, "tie");
                }
                a.emu.set_time(None);
            }),
        ),
    ];
    for (name, step) in &steps {
        step(&api, &ids);
        for top in [1, 4, 100] {
            check(&api, listing, &mark, top, name).await;
        }
    }
}

/// A listing since a mark is built from the `updated_at` index, not a scan: built after the
/// writes (so the index must have followed each of them), at marks before, inside and after
/// tied milliseconds and with a fraction of one, it equals its scanned twin.
#[tokio::test]
async fn listings_since_a_mark_built_after_the_writes_equal_their_scan() {
    let api = Api::new().await;
    let t0 = Utc::now().trunc_subsecs(0) - Duration::hours(2);
    let t1 = t0 + Duration::hours(1);
    api.emu.set_time(Some(t0));
    let mut ids: Vec<String> = (0..8).map(|i| api.seed(&format!("bulk{i}"))).collect();
    api.emu.set_time(None);
    ids.extend((0..8).map(|i| api.seed(&format!("live{i}"))));
    let marks = |extra: &[DateTime<Utc>]| {
        let mut m = vec![
            t0 - Duration::seconds(1),
            t0,
            t0 + Duration::microseconds(500),
            t1,
            t1 - Duration::microseconds(1),
            Utc::now() - Duration::milliseconds(1),
            Utc::now() + Duration::hours(1),
        ];
        m.extend_from_slice(extra);
        m
    };
    let orders = ["created_at asc, id asc", "updated_at desc"];
    let check_all = |marks: Vec<DateTime<Utc>>, step: &'static str| {
        let api = &api;
        async move {
            for mark in marks {
                let mark = mark.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
                for op in ["gt", "ge"] {
                    for order in orders {
                        let filter = format!("updated_at {op} '{mark}'");
                        for top in [3, 100] {
                            check(api, (&filter, order), "", top, step).await;
                        }
                    }
                }
            }
        }
    };
    check_all(marks(&[]), "seeded").await;
    // Writes after some views exist: a tied record moved out of its second, one pinned into
    // it, a record updated twice, an id write-back, one INACTIVE, and new ties at t1.
    api.touch(&ids[2], "x");
    api.emu.set_time(Some(t0));
    api.touch(&ids[9], "into the old second");
    api.emu.set_time(None);
    api.touch(&ids[12], "y");
    api.touch(&ids[12], "z");
    api.emu.update(
        G,
        "people",
        &ids[0],
        json!({ "id": [{ "id": "h1", "provider": "hubspot", "realm": "p" }] }),
    );
    api.emu
        .update(G, "people", &ids[14], json!({ "status": "INACTIVE" }));
    let mid = Utc::now();
    api.emu.set_time(Some(t1));
    for id in &ids[4..7] {
        api.touch(id, "tie");
    }
    api.seed("new at t1");
    api.emu.set_time(None);
    api.seed("new");
    check_all(marks(&[mid, mid - Duration::milliseconds(1)]), "written").await;
}

/// The view of a listing changes between two pages exactly as the scan does.
#[tokio::test]
async fn pages_shift_as_records_change_between_them() {
    let api = Api::new().await;
    let ids: Vec<String> = (0..10).map(|i| api.seed(&format!("p{i}"))).collect();
    let order = "updated_at asc";
    let (first, total) = api.page("", order, 0, 4).await;
    assert_eq!(first, ids[..4]);
    assert_eq!(total, 10);
    // The first record changes: it moves to the end, and the second page starts one later.
    api.touch(&ids[0], "moved");
    let (second, _) = api.page("", order, 4, 4).await;
    assert_eq!(second, ids[5..9]);
    let (tf, to) = twin("", order);
    assert_eq!(api.page(&tf, &to, 4, 4).await.0, second);
    let (last, _) = api.page("", order, 8, 4).await;
    assert_eq!(last, [ids[9].clone(), ids[0].clone()]);
}

/// Orders pinned outright: ties on `created_at` in natural order (last written last), `id` as
/// the unique tiebreaker, `desc`.
#[tokio::test]
async fn tie_orders_are_pinned() {
    let api = Api::new().await;
    let at: DateTime<Utc> = Utc::now().trunc_subsecs(0);
    api.emu.set_time(Some(at));
    let ids: Vec<String> = ["a", "b", "c", "d"].iter().map(|n| api.seed(n)).collect();
    api.touch(&ids[1], "written last");
    api.emu.set_time(None);
    let mut by_id = ids.clone();
    by_id.sort();
    let mut by_id_desc = by_id.clone();
    by_id_desc.reverse();
    let natural = vec![
        ids[0].clone(),
        ids[2].clone(),
        ids[3].clone(),
        ids[1].clone(),
    ];
    let table: [(&str, &str, Vec<String>); 5] = [
        ("", "created_at asc", natural.clone()),
        ("", "updated_at desc", natural.clone()),
        ("", "created_at asc, id asc", by_id.clone()),
        ("", "id desc", by_id_desc),
        (
            &format!("updated_at ge '{}'", at.to_rfc3339()),
            "created_at asc, id asc",
            by_id,
        ),
    ];
    for (filter, order, want) in table {
        let (got, total) = api.page(filter, order, 0, 10).await;
        assert_eq!(got, want, "`{filter}` by `{order}`");
        assert_eq!(total, 4);
        // The same order read one record per page.
        let mut paged = Vec::new();
        for skip in 0..4 {
            paged.extend(api.page(filter, order, skip, 1).await.0);
        }
        assert_eq!(paged, want, "`{filter}` by `{order}`, one per page");
    }
}

/// `$filter ... eq` and smart merges served from equality indexes follow changes of the
/// field: each `eq` listing equals its `ge and le` twin, and a `POST` with `matching_fields`
/// merges into the first ACTIVE record (in creation order) holding the value now.
#[tokio::test]
async fn equality_lookups_follow_every_write() {
    let api = Api::new().await;
    let mail = |a: &str| json!({ "email": { "address": a } });
    let ids: Vec<String> = ["a@x.io", "b@x.io", "a@x.io", "5", "2024-01-01T00:00:00Z"]
        .iter()
        .map(|a| {
            let p = api.emu.seed(G, "people", mail(a));
            p["id"][0]["id"].as_str().unwrap().to_owned()
        })
        .collect();
    let values = [
        "'a@x.io'",
        "'b@x.io'",
        "'A@x.io'",
        "5",
        "'5.0'",
        "'2024-01-01T00:00:00.000Z'",
    ];
    let check = async |step: &str| {
        for v in values {
            let eq = format!("email.address eq {v}");
            let twin = format!("email.address ge {v} and email.address le {v}");
            for order in ["created_at asc, id asc", "updated_at desc"] {
                let got = api.page(&eq, order, 0, 100).await;
                assert_eq!(got, api.page(&twin, order, 0, 100).await, "{step}: {eq}");
            }
        }
    };
    check("seeded").await;
    api.emu.update(G, "people", &ids[0], mail("b@x.io"));
    api.emu
        .update(G, "people", &ids[3], json!({ "email": { "address": 5 } }));
    check("addresses changed").await;
    api.emu
        .update(G, "people", &ids[2], json!({ "status": "INACTIVE" }));
    check("one INACTIVE").await;
    // `a@x.io` is now only on the INACTIVE record: a new record. `b@x.io` merges into the
    // first record holding it now (ids[0], created before ids[1]).
    let post = async |address: &str| {
        let body = json!({ "people": { "email": { "address": address }, "first_name": "M",
                           "opts": { "matching_fields": ["email.address"] } } });
        let r = api
            .c
            .post(format!("{}/api/v2/{G}/people", api.srv.base_url))
            .basic_auth("demo-id", Some("demo-key"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let v: Value = r.json().await.unwrap();
        (status, v["people"]["id"].as_str().unwrap().to_owned())
    };
    let (status, id) = post("b@x.io").await;
    assert_eq!((status, id.as_str()), (200, ids[0].as_str()));
    let (status, id) = post("a@x.io").await;
    assert_eq!(status, 201);
    assert!(!ids.contains(&id));
    let (status, id) = post("a@x.io").await;
    assert_eq!(status, 200, "the new record is found");
    assert!(!ids.contains(&id));
    check("merged").await;
}
