//! The Connec! client against the Connec! emulator, over real HTTP.

use chrono::{SubsecRound, Utc};
use emulators::{ConnecEmulator, RunningServer};
use serde_json::{Value, json};

use super::*;
use sync_core::ports::ExternalId;

mod batch_answer;
mod batch_reads;
mod fake_connec;

const GROUP: &str = "cld-test";

struct Setup {
    emu: ConnecEmulator,
    _server: RunningServer,
    client: ConnecClient,
    group: GroupId,
    people: EntityName,
}

async fn setup_with(tune: impl FnOnce(&mut ConnecConfig)) -> Setup {
    let emu = ConnecEmulator::default();
    let server = emu.start().await.expect("emulator starts");
    let mut config =
        ConnecConfig::new(&server.base_url, "demo-id", "demo-key").expect("valid config");
    config.http = HttpConfig::fast();
    tune(&mut config);
    Setup {
        emu,
        _server: server,
        client: ConnecClient::new(config).expect("client"),
        group: GroupId::new(GROUP),
        people: EntityName::new("people"),
    }
}

async fn setup() -> Setup {
    setup_with(|_| {}).await
}

fn hub_id(record: &Value) -> HubId {
    record::hub_id(record).expect("a Connec! id")
}

fn hubspot(id: &str) -> ExternalId {
    ExternalId {
        provider: Provider::new("hubspot"),
        realm: Realm::new("62515"),
        id: AppId::new(id),
    }
}

fn fields(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

fn ids(found: &[HubRecordMeta]) -> Vec<HubId> {
    found.iter().map(|m| m.id.clone()).collect()
}

#[tokio::test]
async fn find_matches_finds_one_none_several_and_skips_records_without_values() {
    let s = setup().await;
    let ann = s.emu.seed(
        GROUP,
        "people",
        json!({ "first_name": "Ann", "email": { "address": "ann@x.example" },
                "id": [{ "id": "x-1", "provider": "xero", "realm": "t-9" }] }),
    );
    let bob1 = s.emu.seed(
        GROUP,
        "people",
        json!({ "first_name": "Bob", "email": { "address": "bob@x.example" } }),
    );
    let bob2 = s.emu.seed(
        GROUP,
        "people",
        json!({ "first_name": "Robert", "email": { "address": "bob@x.example" } }),
    );
    let gone = s.emu.seed(
        GROUP,
        "people",
        json!({ "first_name": "Cy", "email": { "address": "cy@x.example" }, "status": "INACTIVE" }),
    );
    s.emu.reset_stats();

    let records = [
        json!({ "email": { "address": "ann@x.example" } }),
        json!({ "email": { "address": "nobody@x.example" } }),
        json!({ "email": { "address": "bob@x.example" } }),
        json!({ "first_name": "No e-mail" }),
        json!({ "email": { "address": "  " } }),
        json!({ "email": { "address": "cy@x.example" } }),
        json!({ "email": { "address": "ann@x.example" }, "first_name": "Again" }),
    ];
    let found = s
        .client
        .find_matches(&s.group, &s.people, &fields(&["email.address"]), &records)
        .await
        .unwrap();
    assert_eq!(found.len(), records.len());
    assert_eq!(ids(&found[0]), [hub_id(&ann)]);
    assert_eq!(
        found[0][0].external_ids,
        [ExternalId {
            provider: Provider::new("xero"),
            realm: Realm::new("t-9"),
            id: AppId::new("x-1"),
        }]
    );
    assert!(found[1].is_empty(), "no match");
    // Both, in no promised order (the emulator's stamps may tie, as Connec!'s do).
    let mut several = ids(&found[2]);
    several.sort();
    let mut bobs = vec![hub_id(&bob1), hub_id(&bob2)];
    bobs.sort();
    assert_eq!(several, bobs, "several");
    assert!(
        found[3].is_empty() && found[4].is_empty(),
        "no value, no match"
    );
    assert_eq!(ids(&found[5]), [hub_id(&gone)]);
    assert!(found[5][0].inactive, "an inactive candidate says so");
    assert_eq!(ids(&found[6]), [hub_id(&ann)]);
    // One GET per distinct value; none for the records without one.
    assert_eq!(s.emu.stats().reads, 4);

    let none = s
        .client
        .find_matches(&s.group, &s.people, &[], &records)
        .await
        .unwrap();
    assert!(none.iter().all(Vec::is_empty));
    let refused = s
        .client
        .find_matches(
            &s.group,
            &s.people,
            &fields(&["email.address eq 'x' or name"]),
            &records,
        )
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("is not a field path"),
        "{refused}"
    );
}

#[tokio::test]
async fn find_matches_compares_exactly_as_the_smart_merge_does() {
    let s = setup().await;
    let ann = s.emu.seed(
        GROUP,
        "people",
        json!({ "first_name": "Ann", "email": { "address": "Ann@Example.com" } }),
    );
    let by_email = fields(&["email.address"]);
    let other_case = json!({ "first_name": "ann", "email": { "address": "ann@example.com" } });
    let same = json!({ "first_name": "Ann", "email": { "address": "Ann@Example.com" } });
    let found = s
        .client
        .find_matches(
            &s.group,
            &s.people,
            &by_email,
            &[other_case.clone(), same.clone()],
        )
        .await
        .unwrap();
    assert!(found[0].is_empty(), "another case is another value");
    assert_eq!(ids(&found[1]), [hub_id(&ann)]);

    // Connec!'s smart merge agrees on both.
    let write = |record: &Value, app_id: &str| HubWrite {
        hub_id: None,
        change: HubChange::Fields(record.clone()),
        source: Some(hubspot(app_id)),
        matching_fields: by_email.clone(),
    };
    let outcomes = s
        .client
        .write(
            &s.group,
            &s.people,
            vec![write(&other_case, "1"), write(&same, "2")],
        )
        .await
        .unwrap();
    let created = outcomes[0].as_ref().unwrap();
    assert!(created.created);
    assert_ne!(created.meta.id, hub_id(&ann));
    let merged = outcomes[1].as_ref().unwrap();
    assert!(!merged.created);
    assert_eq!(merged.meta.id, hub_id(&ann));

    // Several fields must all be equal; quotes inside values are sent safely.
    let found = s
        .client
        .find_matches(
            &s.group,
            &s.people,
            &fields(&["first_name", "email.address"]),
            &[
                json!({ "first_name": "Annie", "email": { "address": "Ann@Example.com" } }),
                same.clone(),
            ],
        )
        .await
        .unwrap();
    assert!(found[0].is_empty());
    assert_eq!(ids(&found[1]), [hub_id(&ann)]);
    let organizations = EntityName::new("organizations");
    let obrien = s
        .emu
        .seed(GROUP, "organizations", json!({ "name": "O'Brien & Sons" }));
    let found = s
        .client
        .find_matches(
            &s.group,
            &organizations,
            &fields(&["name"]),
            &[json!({ "name": "O'Brien & Sons" })],
        )
        .await
        .unwrap();
    assert_eq!(ids(&found[0]), [hub_id(&obrien)]);
}

#[tokio::test]
async fn an_id_write_back_is_a_batch_put_that_adds_the_app_id_and_changes_no_field() {
    let s = setup().await;
    let person = s.emu.seed(
        GROUP,
        "people",
        json!({ "first_name": "Ann", "id": [{ "id": "x-1", "provider": "xero", "realm": "t-9" }] }),
    );
    let id = hub_id(&person);
    s.emu.reset_stats();
    let link = |hub: Option<HubId>, source: Option<ExternalId>| HubWrite {
        hub_id: hub,
        change: HubChange::LinkOnly,
        source,
        matching_fields: fields(&["email.address"]),
    };
    let outcomes = s
        .client
        .write(
            &s.group,
            &s.people,
            vec![
                link(None, Some(hubspot("9"))),
                link(Some(id.clone()), Some(hubspot("501"))),
                link(Some(id.clone()), None),
            ],
        )
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 3, "one outcome per write, in order");
    assert!(
        outcomes[0]
            .as_ref()
            .unwrap_err()
            .message
            .contains("needs both")
    );
    assert!(
        outcomes[2]
            .as_ref()
            .unwrap_err()
            .message
            .contains("needs both")
    );
    let linked = outcomes[1].as_ref().unwrap();
    assert!(!linked.created);
    assert_eq!(linked.meta.id, id);
    assert_eq!(
        linked
            .meta
            .external_id(&Provider::new("hubspot"), &Realm::new("62515")),
        Some(&AppId::new("501"))
    );
    assert_eq!(
        linked
            .meta
            .external_id(&Provider::new("xero"), &Realm::new("t-9")),
        Some(&AppId::new("x-1")),
        "the other app's id is kept"
    );
    let stats = s.emu.stats();
    assert_eq!(stats.by_route.get("POST /batch"), Some(&1));
    assert_eq!(
        stats.by_route.get("batch-ops"),
        Some(&1),
        "refused writes are not sent"
    );
    let stored = s.emu.get(GROUP, "people", id.as_str()).unwrap();
    let mut without_meta = stored.clone();
    let mut before = person.clone();
    for record in [&mut without_meta, &mut before] {
        let object = record.as_object_mut().unwrap();
        for key in ["id", "updated_at"] {
            object.remove(key);
        }
    }
    assert_eq!(without_meta, before, "no field changed");
}

#[tokio::test]
async fn a_fields_put_with_a_source_merges_ids_and_archive_sends_inactive() {
    let s = setup().await;
    let person = s.emu.seed(
        GROUP,
        "people",
        json!({ "first_name": "Ann", "last_name": "Old",
                "id": [{ "id": "x-1", "provider": "xero", "realm": "t-9" }] }),
    );
    let id = hub_id(&person);
    let outcomes = s
        .client
        .write(
            &s.group,
            &s.people,
            vec![
                HubWrite {
                    hub_id: Some(id.clone()),
                    change: HubChange::Fields(json!({ "last_name": "New" })),
                    source: Some(hubspot("501")),
                    matching_fields: Vec::new(),
                },
                HubWrite {
                    hub_id: None,
                    change: HubChange::Archive,
                    source: Some(hubspot("502")),
                    matching_fields: Vec::new(),
                },
            ],
        )
        .await
        .unwrap();
    let updated = outcomes[0].as_ref().unwrap();
    assert_eq!(updated.meta.external_ids.len(), 2, "{:?}", updated.meta);
    assert!(
        outcomes[1]
            .as_ref()
            .unwrap_err()
            .message
            .contains("Connec! id")
    );
    let stored = s.emu.get(GROUP, "people", id.as_str()).unwrap();
    assert_eq!(stored["first_name"], json!("Ann"));
    assert_eq!(stored["last_name"], json!("New"));
    assert_eq!(stored["id"][1]["provider"], json!("xero"));
    assert_eq!(stored["id"][2]["provider"], json!("hubspot"));

    let outcomes = s
        .client
        .write(
            &s.group,
            &s.people,
            vec![HubWrite {
                hub_id: Some(id.clone()),
                change: HubChange::Archive,
                source: None,
                matching_fields: Vec::new(),
            }],
        )
        .await
        .unwrap();
    assert!(outcomes[0].as_ref().unwrap().meta.inactive);
    let stored = s.emu.get(GROUP, "people", id.as_str()).unwrap();
    assert_eq!(stored["status"], json!("INACTIVE"));
    assert_eq!(stored["last_name"], json!("New"));
}

/// Every id of an incremental listing, paged by `fetch_page`; `between(page, read so far)`
/// runs after each page.
async fn fetch_all(
    s: &Setup,
    since: Option<Timestamp>,
    mut between: impl FnMut(usize, &[HubId]),
) -> Vec<HubId> {
    let mut seen = Vec::new();
    let mut cursor = None;
    for page in 0.. {
        let got = s
            .client
            .fetch_page(&s.group, &s.people, since, cursor.as_ref())
            .await
            .unwrap();
        seen.extend(got.records.iter().map(hub_id));
        between(page, &seen);
        match got.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    seen
}

#[tokio::test]
async fn records_created_in_one_second_page_without_skips_or_repeats() {
    let s = setup_with(|c| c.page_size = 4).await;
    let second = Utc::now().trunc_subsecs(0) - chrono::Duration::seconds(10);
    s.emu.set_time(Some(second));
    let mut seeded: Vec<HubId> = (0..14)
        .map(|i| {
            hub_id(
                &s.emu
                    .seed(GROUP, "people", json!({ "first_name": format!("P{i}") })),
            )
        })
        .collect();
    s.emu.set_time(None);
    seeded.sort();
    let since = Some(Timestamp::from_datetime(
        second - chrono::Duration::seconds(1),
    ));

    let mut quiet = fetch_all(&s, since, |_, _| {}).await;
    quiet.sort();
    assert_eq!(quiet, seeded);

    // Records change between pages: one already read and one not yet read, each time.
    let mut changed = 0;
    let got = fetch_all(&s, since, |page, read| {
        if page < 3 {
            let unread = seeded.iter().find(|id| !read.contains(id)).cloned();
            for id in [Some(read[0].clone()), unread].into_iter().flatten() {
                s.emu
                    .update(
                        GROUP,
                        "people",
                        id.as_str(),
                        json!({ "last_name": format!("p{page}") }),
                    )
                    .unwrap();
                changed += 1;
            }
        }
    })
    .await;
    assert_eq!(changed, 6);
    let mut sorted = got.clone();
    sorted.sort();
    assert_eq!(sorted, seeded, "every record exactly once");
}
