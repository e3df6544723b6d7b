//! The HubSpot connector against the HubSpot emulator over HTTP: keyset paging of the
//! incremental search (F5), idempotent creates through the create marker (F6), per-record
//! outcomes when a chunk fails (F6), writes grouped by target id (F8), created records linked
//! by their marker (F12), and archive answers checked.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use emulators::hubspot::ScheduledFault;
use emulators::{CallFault, FaultKind, HubSpotEmulator, RunningServer};
use http_client::HttpConfig;
use hubspot::{HubSpotConfig, HubSpotConnector};
use serde_json::{Value, json};
use sync_core::domain::{AppEntityName, AppId, HubId, PageCursor, Timestamp};
use sync_core::ports::{AppConnector, AppWrite, AppWriteFailure, AppWriteKind, MatchQuery};

const MARKER: &str = "connec_id";

struct Setup {
    emu: HubSpotEmulator,
    srv: RunningServer,
}

impl Setup {
    async fn new(config: emulators::HubSpotConfig) -> Self {
        let emu = HubSpotEmulator::new(config);
        let srv = emu.start().await.expect("emulator starts");
        Self { emu, srv }
    }

    async fn default() -> Self {
        Self::new(emulators::HubSpotConfig::default()).await
    }

    fn connector(&self, tweak: impl FnOnce(&mut HubSpotConfig)) -> HubSpotConnector {
        let mut config = HubSpotConfig::new(&self.srv.base_url, "demo-token").expect("config");
        config.http = HttpConfig::fast();
        tweak(&mut config);
        HubSpotConnector::new(config).expect("connector")
    }
}

fn contacts() -> AppEntityName {
    AppEntityName::new("contacts")
}

fn companies() -> AppEntityName {
    AppEntityName::new("companies")
}

fn id_of(record: &Value) -> String {
    record["id"].as_str().expect("id").to_owned()
}

fn create(hub: &str, properties: Value) -> AppWrite {
    AppWrite::Create {
        hub_id: HubId::new(hub),
        record: json!({ "properties": properties }),
        attempt: 0,
    }
}

fn update(id: &str, properties: Value) -> AppWrite {
    AppWrite::Update {
        id: AppId::new(id),
        record: json!({ "properties": properties }),
    }
}

fn query(hub: &str, properties: Value) -> MatchQuery {
    MatchQuery {
        hub_id: HubId::new(hub),
        record: json!({ "properties": properties }),
    }
}

/// Reads every page of the incremental search from `cursor` on, returning the ids by page.
async fn read_all(
    connector: &HubSpotConnector,
    since: Timestamp,
    mut cursor: Option<PageCursor>,
) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..100 {
        let page = connector
            .fetch_page(&contacts(), Some(since), cursor.as_ref())
            .await
            .expect("page");
        ids.extend(page.records.iter().map(id_of));
        match page.next {
            Some(next) => cursor = Some(next),
            None => return ids,
        }
    }
    panic!("the search did not end");
}

fn seed_contacts(emu: &HubSpotEmulator, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| id_of(&emu.seed("contacts", json!({ "firstname": format!("C{i}") }))))
        .collect()
}

fn just_before(emu: &HubSpotEmulator, id: &str) -> Timestamp {
    let at = emu.get("contacts", id).unwrap()["updatedAt"]
        .as_str()
        .unwrap()
        .to_owned();
    Timestamp::parse(&at)
        .unwrap()
        .minus(Duration::from_millis(1))
}

// --- F5: keyset paging --------------------------------------------------------------------

#[tokio::test]
async fn a_record_modified_between_two_search_pages_is_not_skipped() {
    let s = Setup::default().await;
    let seeded = seed_contacts(&s.emu, 7);
    let since = just_before(&s.emu, &seeded[0]);
    let connector = s.connector(|c| c.search_limit = 3);

    let first = connector
        .fetch_page(&contacts(), Some(since), None)
        .await
        .unwrap();
    let mut read: Vec<String> = first.records.iter().map(id_of).collect();
    assert_eq!(read, seeded[..3]);
    // A record already read changes: it moves to the end of the sort order.
    s.emu
        .update("contacts", &seeded[0], json!({ "firstname": "changed" }))
        .unwrap();
    read.extend(read_all(&connector, since, first.next).await);

    let read: HashSet<String> = read.into_iter().collect();
    for id in &seeded {
        assert!(read.contains(id), "contact {id} was skipped");
    }
}

#[tokio::test]
async fn a_record_modified_before_a_search_cursor_is_resumed_is_not_skipped() {
    let s = Setup::default().await;
    let seeded = seed_contacts(&s.emu, 7);
    let since = just_before(&s.emu, &seeded[0]);
    let first = s
        .connector(|c| c.search_limit = 3)
        .fetch_page(&contacts(), Some(since), None)
        .await
        .unwrap();
    let mut read: Vec<String> = first.records.iter().map(id_of).collect();
    // The checkpoint is stored as text; meanwhile other writes move records already read.
    let stored = first.next.expect("more pages").as_str().to_owned();
    for id in &seeded[..2] {
        s.emu
            .update("contacts", id, json!({ "lastname": "later" }))
            .unwrap();
    }
    let resumed = s.connector(|c| c.search_limit = 3);
    read.extend(read_all(&resumed, since, Some(PageCursor::new(stored))).await);

    let read: HashSet<String> = read.into_iter().collect();
    for id in &seeded {
        assert!(read.contains(id), "contact {id} was skipped");
    }
}

/// `n` contacts on an emulator that shuffles ties (`shuffle_seed`), all but the last stamped
/// with one millisecond and the last 5 ms later; and a watermark just before them.
async fn burst(shuffle_seed: u64, n: usize) -> (Setup, Vec<String>, Timestamp) {
    let s = Setup::new(emulators::HubSpotConfig {
        shuffle_seed: Some(shuffle_seed),
        ..emulators::HubSpotConfig::default()
    })
    .await;
    let seeded = seed_contacts(&s.emu, n);
    let last = &seeded[n - 1];
    let at = Timestamp::parse(
        s.emu.get("contacts", last).unwrap()["updatedAt"]
            .as_str()
            .unwrap(),
    )
    .unwrap()
    .epoch_millis()
        + 1000;
    for id in &seeded[..n - 1] {
        assert!(s.emu.set_last_modified("contacts", id, at));
    }
    assert!(s.emu.set_last_modified("contacts", last, at + 5));
    let since = Timestamp::parse(&(at - 1).to_string()).unwrap();
    (s, seeded, since)
}

#[tokio::test]
async fn more_than_a_page_of_records_in_one_millisecond_are_each_read_once() {
    // Ties in the sort order come back in a random order, as HubSpot promises no order.
    let (s, seeded, since) = burst(5, 9).await;

    let read = read_all(&s.connector(|c| c.search_limit = 3), since, None).await;
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for id in &read {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    for id in &seeded {
        assert_eq!(counts.get(id.as_str()), Some(&1), "contact {id}: {read:?}");
    }
    assert_eq!(read.len(), seeded.len());
}

#[tokio::test]
async fn a_burst_in_one_millisecond_costs_one_search_per_page_of_it() {
    // A bulk edit stamps hundreds of records with one millisecond: no query may be spent on a
    // page that is thrown away because its order within the millisecond is undefined.
    let (s, seeded, since) = burst(7, 10).await;
    s.emu.reset_stats();

    let read = read_all(&s.connector(|c| c.search_limit = 3), since, None).await;

    let read: HashSet<String> = read.into_iter().collect();
    assert_eq!(read, seeded.iter().cloned().collect::<HashSet<_>>());
    // 10 records in pages of 3: three full pages and a short one.
    let searches = s.emu.stats().by_route["POST /crm/v3/objects/{objectType}/search"];
    assert_eq!(searches, 4, "searches for 10 records in pages of 3");
}

// --- F6: idempotent creates and per-record outcomes -----------------------------------------

#[tokio::test]
async fn a_create_whose_answer_is_lost_after_commit_is_found_by_its_marker_and_not_created_twice() {
    let s = Setup::default().await;
    let connector = s.connector(|c| c.http.timeout = Duration::from_millis(1500));
    s.emu
        .schedule_fault(ScheduledFault::after_commit(CallFault::new(
            "/batch/create",
            FaultKind::Timeout { delay_ms: 4000 },
            1,
        )));
    // No e-mail: nothing but the marker can find it again.
    let outcomes = connector
        .write(
            &contacts(),
            vec![create("hub-1", json!({ "firstname": "Ann" }))],
        )
        .await
        .expect("a lost answer fails the record, not the call");
    // Its fate is unknown to the engine, which keeps its write-ahead.
    assert!(matches!(outcomes[0], Err(AppWriteFailure::Unsettled(_))));
    let stored = s.emu.objects("contacts");
    assert_eq!(stored.len(), 1, "HubSpot committed the create");

    // The next run looks before it creates.
    let next_run = s.connector(|_| {});
    let matches = next_run
        .find_matches(
            &contacts(),
            &[query("hub-1", json!({ "firstname": "Ann" }))],
        )
        .await
        .unwrap();
    assert_eq!(matches[0].marked, Some(AppId::new(id_of(&stored[0]))));
    let id = matches[0].marked.clone().unwrap();
    let outcomes = next_run
        .write(
            &contacts(),
            vec![update(id.as_str(), json!({ "firstname": "Ann" }))],
        )
        .await
        .unwrap();
    assert!(outcomes[0].is_ok());
    assert_eq!(s.emu.objects("contacts").len(), 1, "not created twice");
}

#[tokio::test]
async fn a_failing_second_chunk_keeps_the_first_chunks_outcomes() {
    let s = Setup::default().await;
    let targets = seed_contacts(&s.emu, 4);
    let connector = s.connector(|c| c.batch_size = 2);
    // The second create chunk and the second update chunk fail as a whole: a 500 for the
    // creates (not retried: the create may have happened), 503s until the retries run out.
    s.emu.schedule_fault(ScheduledFault::after(
        1,
        CallFault::status("/batch/create", 500, 1),
    ));
    s.emu.schedule_fault(ScheduledFault::after(
        1,
        CallFault::status("/batch/update", 503, 0),
    ));
    let mut writes: Vec<AppWrite> = (0..4)
        .map(|i| {
            create(
                &format!("hub-{i}"),
                json!({ "firstname": format!("New{i}") }),
            )
        })
        .collect();
    writes.extend(
        targets
            .iter()
            .map(|id| update(id, json!({ "jobtitle": "updated" }))),
    );
    let outcomes = connector
        .write(&contacts(), writes)
        .await
        .expect("a failed chunk fails its own records only");
    assert_eq!(outcomes.len(), 8);
    for i in [0, 1, 4, 5] {
        assert!(outcomes[i].is_ok(), "write {i}: {:?}", outcomes[i]);
    }
    // A chunk that failed with a 5xx may have been applied: unsettled, not refused.
    for i in [2, 3, 6, 7] {
        assert!(
            matches!(outcomes[i], Err(AppWriteFailure::Unsettled(_))),
            "write {i}: {:?}",
            outcomes[i]
        );
    }
    for (i, target) in targets.iter().enumerate() {
        let title = s.emu.get("contacts", target).unwrap()["properties"]["jobtitle"].clone();
        assert_eq!(title == json!("updated"), i < 2, "contact {target}");
    }
    s.emu.clear_faults();
    // What the first chunk created is found by its marker; the rest is not there.
    let matches = connector
        .find_matches(
            &contacts(),
            &(0..4)
                .map(|i| query(&format!("hub-{i}"), json!({})))
                .collect::<Vec<_>>(),
        )
        .await
        .unwrap();
    for i in 0..2 {
        let created = outcomes[i].as_ref().unwrap();
        assert_eq!(created.kind, AppWriteKind::Created);
        assert_eq!(matches[i].marked, Some(AppId::new(id_of(&created.record))));
    }
    assert_eq!(matches[2].marked, None);
    assert_eq!(matches[3].marked, None);
}

// --- F8: grouped by target id ----------------------------------------------------------------

#[tokio::test]
async fn two_writes_to_one_id_in_one_call_do_not_fail_the_other_records() {
    let s = Setup::default().await;
    let ids = seed_contacts(&s.emu, 3);
    let outcomes = s
        .connector(|_| {})
        .write(
            &contacts(),
            vec![
                update(&ids[0], json!({ "firstname": "A1" })),
                update(&ids[1], json!({ "firstname": "B1" })),
                update(&ids[0], json!({ "firstname": "A2" })),
                update(&ids[2], json!({ "firstname": "C1" })),
                create("hub-twice", json!({ "firstname": "X1" })),
                create("hub-twice", json!({ "firstname": "X2" })),
            ],
        )
        .await
        .unwrap();
    for (i, outcome) in outcomes.iter().enumerate() {
        assert!(outcome.is_ok(), "write {i}: {outcome:?}");
    }
    let name = |id: &str| s.emu.get("contacts", id).unwrap()["properties"]["firstname"].clone();
    assert_eq!(name(&ids[0]), "A2", "the later write to one id wins");
    assert_eq!(name(&ids[1]), "B1");
    assert_eq!(name(&ids[2]), "C1");
    let twice: Vec<Value> = s
        .emu
        .objects("contacts")
        .into_iter()
        .filter(|o| o["properties"][MARKER] == "hub-twice")
        .collect();
    assert_eq!(twice.len(), 1, "one hub record, one contact");
    assert_eq!(twice[0]["properties"]["firstname"], "X2");
}

// --- F12: created records linked by their marker ---------------------------------------------

#[tokio::test]
async fn shuffled_batch_results_still_link_each_created_record_to_its_own_input() {
    let s = Setup::new(emulators::HubSpotConfig {
        shuffle_seed: Some(11),
        ..emulators::HubSpotConfig::default()
    })
    .await;
    let targets = seed_contacts(&s.emu, 3);
    let mut writes: Vec<AppWrite> = (0..6)
        .map(|i| create(&format!("hub-{i}"), json!({ "firstname": format!("F{i}") })))
        .collect();
    writes.extend(
        targets
            .iter()
            .enumerate()
            .map(|(i, id)| update(id, json!({ "lastname": format!("L{i}") }))),
    );
    let outcomes = s
        .connector(|_| {})
        .write(&contacts(), writes)
        .await
        .unwrap();
    for (i, outcome) in outcomes.iter().take(6).enumerate() {
        let record = &outcome.as_ref().expect("created").record;
        let stored = s.emu.get("contacts", &id_of(record)).unwrap();
        assert_eq!(
            stored["properties"]["firstname"],
            json!(format!("F{i}")),
            "write {i}"
        );
        assert_eq!(
            stored["properties"][MARKER],
            json!(format!("hub-{i}")),
            "write {i}"
        );
    }
    for (i, target) in targets.iter().enumerate() {
        let record = &outcomes[6 + i].as_ref().expect("updated").record;
        assert_eq!(&id_of(record), target);
        assert_eq!(record["properties"]["lastname"], json!(format!("L{i}")));
    }
}

// --- Archive ----------------------------------------------------------------------------------

#[tokio::test]
async fn a_2xx_archive_answer_with_a_wrong_body_is_not_success() {
    let s = Setup::default().await;
    let ids = seed_contacts(&s.emu, 2);
    let app_ids: Vec<AppId> = ids.iter().map(|id| AppId::new(id.as_str())).collect();
    let connector = s.connector(|_| {});
    s.emu
        .fail_calls(CallFault::new("/batch/archive", FaultKind::WrongShape, 1));
    let outcomes = connector.archive(&contacts(), &app_ids).await.unwrap();
    assert!(outcomes.iter().all(Result::is_err), "{outcomes:?}");

    // The documented answer, 204 No Content, is success.
    let outcomes = connector.archive(&contacts(), &app_ids).await.unwrap();
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    assert!(s.emu.objects("contacts").is_empty());
}

// --- Matching ---------------------------------------------------------------------------------

#[tokio::test]
async fn contacts_without_email_and_companies_without_name_or_domain_are_matched_by_the_marker() {
    let s = Setup::default().await;
    let connector = s.connector(|_| {});
    let contact = connector
        .write(
            &contacts(),
            vec![create("hub-person", json!({ "jobtitle": "CEO" }))],
        )
        .await
        .unwrap();
    let company = connector
        .write(
            &companies(),
            vec![create("hub-org", json!({ "industry": "Retail" }))],
        )
        .await
        .unwrap();
    let contact_id = id_of(&contact[0].as_ref().unwrap().record);
    let company_id = id_of(&company[0].as_ref().unwrap().record);

    let later = s.connector(|_| {});
    let found = later
        .find_matches(
            &contacts(),
            &[
                query("hub-person", json!({ "jobtitle": "CEO" })),
                query("hub-stranger", json!({ "jobtitle": "CEO" })),
            ],
        )
        .await
        .unwrap();
    assert_eq!(found[0].marked, Some(AppId::new(contact_id.as_str())));
    assert!(found[0].natural.is_empty());
    assert_eq!(found[1].marked, None);
    assert!(found[1].natural.is_empty());
    let found = later
        .find_matches(
            &companies(),
            &[query("hub-org", json!({ "industry": "Retail" }))],
        )
        .await
        .unwrap();
    assert_eq!(found[0].marked, Some(AppId::new(company_id.as_str())));
}

#[tokio::test]
async fn the_marker_property_is_created_before_the_first_create_and_never_by_a_search() {
    let s = Setup::default().await;
    let connector = s.connector(|_| {});
    s.emu.seed("contacts", json!({ "email": "ann@x.io" }));
    s.emu.reset_stats();
    let found = connector
        .find_matches(
            &contacts(),
            &[query("hub-1", json!({ "email": "ann@x.io" }))],
        )
        .await
        .unwrap();
    assert_eq!(found[0].natural.len(), 1);
    assert_eq!(s.emu.stats().writes, 0, "find_matches writes nothing");
    assert!(s.emu.property("contacts", MARKER).is_none());

    let outcomes = connector
        .write(
            &contacts(),
            vec![create("hub-2", json!({ "firstname": "Bo" }))],
        )
        .await
        .unwrap();
    assert!(outcomes[0].is_ok(), "{:?}", outcomes[0]);
    let definition = s.emu.property("contacts", MARKER).expect("created");
    assert_eq!(definition["type"], "string");
    assert_eq!(definition["fieldType"], "text");
    assert!(
        s.emu.property("companies", MARKER).is_none(),
        "only where needed"
    );
    let stored = s
        .emu
        .get("contacts", &id_of(&outcomes[0].as_ref().unwrap().record))
        .unwrap();
    assert_eq!(stored["properties"][MARKER], "hub-2");
}

#[tokio::test]
async fn natural_matches_compare_like_hubspot_and_come_best_first() {
    let s = Setup::default().await;
    let connector = s.connector(|_| {});
    let ann = id_of(&s.emu.seed("contacts", json!({ "email": "ann@x.io" })));
    // Companies: one by domain, one by name; the domain match is the better one.
    let by_name = id_of(&s.emu.seed("companies", json!({ "name": "Acme" })));
    let by_domain = id_of(
        &s.emu
            .seed("companies", json!({ "name": "Other", "domain": "acme.io" })),
    );
    s.emu.seed(
        "companies",
        json!({ "name": "Unrelated", "domain": "else.io" }),
    );

    let found = connector
        .find_matches(
            &contacts(),
            &[query("hub-ann", json!({ "email": " Ann@X.io " }))],
        )
        .await
        .unwrap();
    assert_eq!(found[0].natural, [AppId::new(ann)]);
    assert_eq!(found[0].marked, None);
    let found = connector
        .find_matches(
            &companies(),
            &[query(
                "hub-acme",
                json!({ "name": "ACME", "domain": "Acme.io" }),
            )],
        )
        .await
        .unwrap();
    assert_eq!(
        found[0].natural,
        [AppId::new(by_domain), AppId::new(by_name)]
    );
}

#[tokio::test]
async fn an_answer_that_is_not_the_marker_definition_is_not_taken_for_it() {
    let s = Setup::default().await;
    let connector = s.connector(|_| {});
    s.emu.fail_calls(CallFault::new(
        "/crm/v3/properties",
        FaultKind::WrongShape,
        1,
    ));
    let outcomes = connector
        .write(
            &contacts(),
            vec![create("hub-1", json!({ "firstname": "A" }))],
        )
        .await
        .expect("the create fails, not the call");
    // A wrong-shaped answer is no refusal: unsettled, the conservative reading.
    assert!(matches!(outcomes[0], Err(AppWriteFailure::Unsettled(_))));
    assert!(s.emu.objects("contacts").is_empty());

    // The same instance checks again, creates the property, then the record.
    let outcomes = connector
        .write(
            &contacts(),
            vec![create("hub-1", json!({ "firstname": "A" }))],
        )
        .await
        .unwrap();
    assert!(outcomes[0].is_ok(), "{:?}", outcomes[0]);
    assert!(s.emu.property("contacts", MARKER).is_some());
}

#[tokio::test]
async fn a_missing_schema_scope_fails_the_call_and_names_the_scopes() {
    let s = Setup::default().await;
    s.emu
        .fail_calls(CallFault::status("/crm/v3/properties", 403, 0));
    let error = s
        .connector(|_| {})
        .write(
            &contacts(),
            vec![create("hub-1", json!({ "firstname": "A" }))],
        )
        .await
        .expect_err("every create would fail the same way");
    let message = error.to_string();
    assert!(message.contains("crm.schemas.contacts.write"), "{message}");
    assert!(s.emu.objects("contacts").is_empty());
}
