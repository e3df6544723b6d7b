//! End-to-end: the engine, the embedded store, the Connec! client and the HubSpot connector
//! against both emulators over real HTTP. One test per sync rule of the README ("How a sync works") built here.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use connec::record;
use emulators::{CallFault, FaultKind, RecordFault};
use serde_json::{Value, json};
use sync_core::domain::{ConflictPolicy, Direction, EntityName, RunStatus, Side};
use sync_core::engine::RunOptions;
use sync_core::ports::SyncStore;
use tests::{World, WorldOptions, counts, prop};

fn emails_of_contacts(world: &World) -> Vec<String> {
    world
        .app("contacts")
        .iter()
        .filter_map(|c| prop(c, "email").map(str::to_owned))
        .collect()
}

fn emails_of_people(world: &World) -> Vec<String> {
    world
        .hub("people")
        .iter()
        .filter_map(|p| {
            p.pointer("/email/address")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect()
}

fn assert_unique(values: &[String]) {
    let set: HashSet<&String> = values.iter().collect();
    assert_eq!(set.len(), values.len(), "duplicates in {values:?}");
}

async fn pause() {
    // Emulator clocks have millisecond precision: keep edits strictly ordered.
    tokio::time::sleep(Duration::from_millis(5)).await;
}

#[tokio::test]
async fn first_sync_merges_records_present_on_both_sides_without_duplicates() {
    let world = World::start().await;
    let acme = world.hub_seed(
        "organizations",
        json!({ "name": "Acme", "website": { "url": "acme.example" } }),
    );
    world.hub_seed("organizations", json!({ "name": "Hub Only Ltd" }));
    world.hub_seed(
        "people",
        json!({ "first_name": "Ann", "last_name": "Lee", "email": { "address": "ann@acme.example" }, "organization_id": acme.as_str() }),
    );
    world.hub_seed(
        "people",
        json!({ "first_name": "Hal", "email": { "address": "hal@hub.example" } }),
    );
    let acme_app = world.app_seed(
        "companies",
        json!({ "name": "Acme", "domain": "acme.example", "city": "Springfield" }),
    );
    world.app_seed("companies", json!({ "name": "App Only Inc" }));
    world.app_seed(
        "contacts",
        json!({ "firstname": "Ann", "lastname": "Lee", "email": "ann@acme.example", "phone": "555", "associatedcompanyid": acme_app }),
    );
    world.app_seed(
        "contacts",
        json!({ "firstname": "Apu", "email": "apu@app.example" }),
    );

    let run = world.sync().await;
    assert_eq!(run.status, RunStatus::Success, "{:?}", run.errors);
    assert!(run.first_sync);

    // Three people, three organizations on each side: the shared ones merged, not duplicated.
    assert_eq!(world.hub("people").len(), 3);
    assert_eq!(world.app("contacts").len(), 3);
    assert_eq!(world.hub("organizations").len(), 3);
    assert_eq!(world.app("companies").len(), 3);
    assert_unique(&emails_of_contacts(&world));
    assert_unique(&emails_of_people(&world));
    assert_eq!(counts(&run, "people", Direction::ToHub).merged, 1);
    assert_eq!(counts(&run, "organizations", Direction::ToHub).merged, 1);
    // Fields only one side had now exist on both.
    let ann = world
        .hub_person("ann@acme.example")
        .expect("Ann in Connec!");
    assert_eq!(ann.pointer("/phone_work/landline"), Some(&json!("555")));
    let acme_hub = world
        .emulators
        .connec
        .get(tests::GROUP_ID, "organizations", acme.as_str())
        .unwrap();
    assert_eq!(
        acme_hub.pointer("/address/billing/city"),
        Some(&json!("Springfield"))
    );
    assert_eq!(
        world.emulators.hubspot.primary_company_of(
            world.app_contact("ann@acme.example").unwrap()["id"]
                .as_str()
                .unwrap()
        ),
        Some(acme_app)
    );
    world.assert_agree().await;
}

#[tokio::test]
async fn an_immediate_second_sync_pushes_nothing() {
    let world = World::start().await;
    let org = world.hub_seed(
        "organizations",
        json!({ "name": "Acme", "number_of_employees": 12 }),
    );
    world.hub_seed("people", json!({ "first_name": "Ann", "email": { "address": "Ann@Acme.example" }, "organization_id": org.as_str() }));
    world.app_seed(
        "contacts",
        json!({ "firstname": "Bo", "email": "bo@app.example", "phone": "" }),
    );
    let first = world.sync().await;
    assert_eq!(first.status, RunStatus::Success);

    world.emulators.connec.reset_stats();
    world.emulators.hubspot.reset_stats();
    let second = world.sync().await;
    assert_eq!(second.status, RunStatus::Success);
    assert_eq!(second.totals().written(), 0, "echo: {:?}", second.counts);
    assert_eq!(world.emulators.connec.stats().writes, 0);
    assert_eq!(world.emulators.hubspot.stats().writes, 0);
    world.assert_agree().await;
}

#[tokio::test]
async fn incremental_sync_moves_only_the_changes() {
    let world = World::start().await;
    let ids: Vec<_> = (0..5)
        .map(|i| world.hub_seed("people", json!({ "first_name": format!("P{i}"), "email": { "address": format!("p{i}@x.example") } })))
        .collect();
    let contact = world.app_seed(
        "contacts",
        json!({ "firstname": "Zed", "email": "zed@x.example" }),
    );
    world.sync().await;

    world.hub_update("people", &ids[2], json!({ "job_title": "Chief" }));
    world.app_update("contacts", &contact, json!({ "lastname": "Zulu" }));
    world.emulators.hubspot.reset_stats();
    world.emulators.connec.reset_stats();
    let run = world.sync().await;

    let to_app = counts(&run, "people", Direction::ToApp);
    let to_hub = counts(&run, "people", Direction::ToHub);
    assert_eq!((to_app.updated, to_app.created), (1, 0));
    assert_eq!((to_hub.updated, to_hub.created), (1, 0));
    assert_eq!(
        prop(&world.app_contact("p2@x.example").unwrap(), "jobtitle"),
        Some("Chief")
    );
    assert_eq!(
        world.hub_person("zed@x.example").unwrap()["last_name"],
        json!("Zulu")
    );
    // One batch update into HubSpot and one batch into Connec!: nothing else was written.
    assert_eq!(world.emulators.hubspot.stats().writes, 1);
    assert_eq!(world.emulators.connec.stats().writes, 1);
    world.assert_agree().await;
}

#[tokio::test]
async fn a_hub_change_made_during_a_run_reaches_the_app_on_the_next_run() {
    let world = World::start().await;
    let first = world.hub_seed(
        "people",
        json!({ "first_name": "Early", "email": { "address": "early@x.example" } }),
    );
    world.sync().await;
    world.hub_update("people", &first, json!({ "job_title": "v1" }));

    // While the next run is under way (after Connec! people were read), someone edits again.
    let connec = world.emulators.connec.clone();
    let edited = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = edited.clone();
    let id = first.clone();
    let options = RunOptions {
        full: false,
        progress: Some(Arc::new(move |page: &sync_core::engine::PageProgress| {
            if page.entity.as_str() == "people"
                && page.direction == Direction::ToApp
                && !flag.swap(true, std::sync::atomic::Ordering::SeqCst)
            {
                connec.update(
                    tests::GROUP_ID,
                    "people",
                    id.as_str(),
                    json!({ "job_title": "v2" }),
                );
            }
        })),
        deadline: None,
    };
    world.sync_with(options).await;
    assert!(edited.load(std::sync::atomic::Ordering::SeqCst));
    assert_eq!(
        prop(&world.app_contact("early@x.example").unwrap(), "jobtitle"),
        Some("v1")
    );

    let next = world.sync().await;
    assert_eq!(counts(&next, "people", Direction::ToApp).updated, 1);
    assert_eq!(
        prop(&world.app_contact("early@x.example").unwrap(), "jobtitle"),
        Some("v2")
    );
    world.assert_agree().await;
}

/// Links one person, then edits it on both sides: hub first, app second unless `app_first`.
async fn conflict(policy: ConflictPolicy, app_first: bool) -> (World, sync_core::domain::Run) {
    let world = World::with(WorldOptions {
        policy,
        ..WorldOptions::default()
    })
    .await;
    let id = world.hub_seed(
        "people",
        json!({ "first_name": "Cy", "email": { "address": "cy@x.example" }, "job_title": "start" }),
    );
    world.sync().await;
    let contact = world.app_contact("cy@x.example").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    pause().await;
    if app_first {
        world.app_update("contacts", &contact, json!({ "jobtitle": "from app" }));
        pause().await;
        world.hub_update("people", &id, json!({ "job_title": "from hub" }));
    } else {
        world.hub_update("people", &id, json!({ "job_title": "from hub" }));
        pause().await;
        world.app_update("contacts", &contact, json!({ "jobtitle": "from app" }));
    }
    let run = world.sync().await;
    assert_eq!(
        counts(&run, "people", Direction::ToApp).conflicts,
        1,
        "{:?}",
        run.counts
    );
    assert_eq!(run.conflicts.len(), 1);
    (world, run)
}

fn both_titles(world: &World) -> (String, String) {
    let hub = world.hub_person("cy@x.example").unwrap()["job_title"]
        .as_str()
        .unwrap()
        .to_owned();
    let app = prop(&world.app_contact("cy@x.example").unwrap(), "jobtitle")
        .unwrap()
        .to_owned();
    (hub, app)
}

#[tokio::test]
async fn conflict_hub_wins() {
    let (world, _) = conflict(ConflictPolicy::HubWins, false).await;
    assert_eq!(both_titles(&world), ("from hub".into(), "from hub".into()));
    world.assert_agree().await;
}

#[tokio::test]
async fn conflict_app_wins() {
    let (world, _) = conflict(ConflictPolicy::AppWins, true).await;
    assert_eq!(both_titles(&world), ("from app".into(), "from app".into()));
    world.assert_agree().await;
}

#[tokio::test]
async fn conflict_most_recent_wins_either_way() {
    let (world, run) = conflict(ConflictPolicy::MostRecent, false).await;
    assert_eq!(both_titles(&world), ("from app".into(), "from app".into()));
    assert_eq!(run.conflicts[0].winner, sync_core::domain::Winner::App);
    world.assert_agree().await;
    // After the conflict, nothing bounces back.
    let quiet = world.sync().await;
    assert_eq!(quiet.totals().written(), 0);

    let (world, run) = conflict(ConflictPolicy::MostRecent, true).await;
    assert_eq!(both_titles(&world), ("from hub".into(), "from hub".into()));
    assert_eq!(run.conflicts[0].winner, sync_core::domain::Winner::Hub);
    world.assert_agree().await;
}

#[tokio::test]
async fn a_person_whose_organization_is_not_synced_yet_is_deferred_then_arrives() {
    let world = World::start().await;
    let org = world.hub_seed("organizations", json!({ "name": "Late Corp" }));
    world.hub_seed("people", json!({ "first_name": "Di", "email": { "address": "di@late.example" }, "organization_id": org.as_str() }));
    world.hub_seed(
        "people",
        json!({ "first_name": "Ed", "email": { "address": "ed@free.example" } }),
    );
    // HubSpot refuses the company for now, so the person cannot be linked to it.
    world
        .emulators
        .hubspot
        .fail_record(RecordFault::new("name", "Late Corp"));

    let run = world.sync().await;
    assert_eq!(run.status, RunStatus::Partial);
    assert_eq!(counts(&run, "organizations", Direction::ToApp).failed, 1);
    assert_eq!(counts(&run, "people", Direction::ToApp).deferred, 1);
    assert!(world.app_contact("di@late.example").is_none());
    assert!(
        world.app_contact("ed@free.example").is_some(),
        "others are not held up"
    );
    let parked = world
        .store
        .pending(&world.org, &EntityName::new("people"), Side::Hub)
        .await
        .unwrap();
    assert_eq!(parked.len(), 1);
    assert!(
        parked[0].error.contains("organizations"),
        "{}",
        parked[0].error
    );

    world.emulators.hubspot.clear_faults();
    let next = world.sync().await;
    assert_eq!(next.status, RunStatus::Success, "{:?}", next.counts);
    let di = world
        .app_contact("di@late.example")
        .expect("deferred person arrived");
    let company = world
        .emulators
        .hubspot
        .primary_company_of(di["id"].as_str().unwrap())
        .expect("linked to its company");
    assert_eq!(
        prop(
            &world.emulators.hubspot.get("companies", &company).unwrap(),
            "name"
        ),
        Some("Late Corp")
    );
    assert!(
        world
            .store
            .pending(&world.org, &EntityName::new("people"), Side::Hub)
            .await
            .unwrap()
            .is_empty()
    );
    world.assert_agree().await;
}

#[tokio::test]
async fn one_rejected_record_does_not_stop_the_others_and_is_retried_next_run() {
    let world = World::start().await;
    for i in 0..4 {
        world.hub_seed("people", json!({ "first_name": format!("H{i}"), "email": { "address": format!("h{i}@x.example") } }));
        world.app_seed(
            "contacts",
            json!({ "firstname": format!("A{i}"), "email": format!("a{i}@x.example") }),
        );
    }
    world
        .emulators
        .hubspot
        .fail_record(RecordFault::new("email", "h2@x.example"));
    world
        .emulators
        .connec
        .fail_record(RecordFault::new("email.address", "a1@x.example"));

    let run = world.sync().await;
    assert_eq!(run.status, RunStatus::Partial);
    assert_eq!(counts(&run, "people", Direction::ToApp).failed, 1);
    assert_eq!(counts(&run, "people", Direction::ToHub).failed, 1);
    assert_eq!(world.app("contacts").len(), 7);
    assert_eq!(world.hub("people").len(), 7);
    let maps = world.idmaps("people").await;
    let with_errors: Vec<_> = maps.iter().filter(|m| m.last_error.is_some()).collect();
    assert_eq!(
        with_errors.len(),
        2,
        "errors are stored on the id-maps: {maps:#?}"
    );

    // Nothing changed, yet both are retried once the APIs accept them.
    world.emulators.hubspot.clear_faults();
    world.emulators.connec.clear_faults();
    let next = world.sync().await;
    assert_eq!(next.status, RunStatus::Success, "{:?}", next.counts);
    assert_eq!(world.app("contacts").len(), 8);
    assert_eq!(world.hub("people").len(), 8);
    assert!(
        world
            .idmaps("people")
            .await
            .iter()
            .all(|m| m.last_error.is_none())
    );
    world.assert_agree().await;
}

#[tokio::test]
async fn a_crash_between_push_and_idmap_write_creates_no_duplicate_on_rerun() {
    let world = World::start().await;
    for i in 0..3 {
        world.hub_seed(
            "organizations",
            json!({ "name": format!("Org {i}"), "website": { "url": format!("org{i}.example") } }),
        );
        world.hub_seed("people", json!({ "first_name": format!("H{i}"), "email": { "address": format!("h{i}@x.example") } }));
        world.app_seed(
            "contacts",
            json!({ "firstname": format!("A{i}"), "email": format!("a{i}@x.example") }),
        );
        // No natural key: nothing to match on but the create marker and the external id.
        world.hub_seed("people", json!({ "first_name": format!("N{i}") }));
        world.app_seed("contacts", json!({ "firstname": format!("M{i}") }));
    }
    // Every id-map write of the first run is lost after the records were pushed.
    world.store.fail_next_idmap_saves(100);
    let crashed = world.sync().await;
    assert_eq!(crashed.status, RunStatus::Failed);
    assert_eq!(world.app("companies").len(), 3, "the pushes happened");
    world.store.fail_next_idmap_saves(0);

    let rerun = world.sync().await;
    assert_eq!(rerun.status, RunStatus::Success, "{:?}", rerun.errors);
    assert_eq!(world.app("companies").len(), 3);
    assert_eq!(world.hub("organizations").len(), 3);
    assert_eq!(world.app("contacts").len(), 12, "no duplicate in HubSpot");
    assert_eq!(world.hub("people").len(), 12, "no duplicate in Connec!");
    let mut names: Vec<String> = world
        .app("contacts")
        .iter()
        .filter_map(|c| c.pointer("/properties/firstname").and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 12);
    assert_unique(&emails_of_contacts(&world));
    assert_unique(&emails_of_people(&world));
    world.assert_agree().await;
}

#[tokio::test]
async fn more_records_than_a_page_on_both_sides() {
    let world = World::start().await;
    for i in 0..230 {
        world.hub_seed("people", json!({ "first_name": format!("H{i}"), "email": { "address": format!("h{i}@x.example") } }));
    }
    for i in 0..160 {
        world.app_seed(
            "contacts",
            json!({ "firstname": format!("A{i}"), "email": format!("a{i}@x.example") }),
        );
    }
    let run = world.sync().await;
    assert_eq!(run.status, RunStatus::Success);
    assert_eq!(world.hub("people").len(), 390);
    assert_eq!(world.app("contacts").len(), 390);
    let hub_stats = world.emulators.connec.stats();
    let pages = hub_stats
        .by_route
        .iter()
        .filter(|(k, _)| k.starts_with("GET"))
        .map(|(_, n)| n)
        .sum::<u64>();
    assert!(
        pages >= 4,
        "Connec! people were read in pages of 100: {:?}",
        hub_stats.by_route
    );
    world.assert_agree().await;

    // Incremental runs page through HubSpot's search too, and a record changed between two
    // pages (it moves to the end of the last-modified order) is neither skipped nor lost.
    let ids: Vec<String> = world
        .app("contacts")
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    for id in &ids {
        world.app_update("contacts", id, json!({ "jobtitle": "paged" }));
    }
    let hubspot = world.emulators.hubspot.clone();
    let first = ids[0].clone();
    let moved = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let once = moved.clone();
    let progress: sync_core::engine::ProgressFn = Arc::new(move |page| {
        if page.entity.as_str() == "people"
            && page.direction == Direction::ToHub
            && !once.swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            hubspot
                .update("contacts", &first, json!({ "jobtitle": "moved" }))
                .unwrap();
        }
    });
    let next = world
        .sync_with(RunOptions {
            progress: Some(progress),
            ..RunOptions::default()
        })
        .await;
    assert!(
        moved.load(std::sync::atomic::Ordering::SeqCst),
        "a record moved between pages"
    );
    assert!(counts(&next, "people", Direction::ToHub).updated >= 389);
    world.sync().await;
    let titles: Vec<Value> = world
        .hub("people")
        .iter()
        .map(|p| p["job_title"].clone())
        .collect();
    assert_eq!(
        titles.iter().filter(|t| **t == json!("paged")).count(),
        389,
        "none skipped"
    );
    assert_eq!(titles.iter().filter(|t| **t == json!("moved")).count(), 1);
    world.assert_agree().await;
}

#[tokio::test]
async fn incremental_search_restarts_at_the_search_cap() {
    let world = World::with(WorldOptions {
        hubspot: emulators::HubSpotConfig {
            search_cap: 400,
            ..emulators::HubSpotConfig::default()
        },
        ..WorldOptions::default()
    })
    .await;
    world.sync().await;
    for i in 0..450 {
        world.app_seed(
            "contacts",
            json!({ "firstname": format!("C{i}"), "email": format!("c{i}@x.example") }),
        );
    }
    let run = world.sync().await;
    // Past the cap the search API answers 400: the connector restarts from the last timestamp.
    assert_eq!(run.status, RunStatus::Success, "{:?}", run.errors);
    assert_eq!(world.hub("people").len(), 450);
}

#[tokio::test]
async fn retry_after_is_honoured_on_429_and_5xx_is_retried() {
    let world = World::start().await;
    world.hub_seed(
        "people",
        json!({ "first_name": "R", "email": { "address": "r@x.example" } }),
    );
    world.emulators.connec.fail_calls(CallFault::new(
        "/people",
        FaultKind::Status {
            status: 429,
            retry_after_secs: Some(1),
        },
        1,
    ));
    world
        .emulators
        .hubspot
        .fail_calls(CallFault::status("/contacts", 503, 2));
    let run = world.sync().await;
    assert_eq!(run.status, RunStatus::Success, "{:?}", run.errors);
    assert_eq!(world.emulators.connec.stats().rejected, 1);
    assert_eq!(world.emulators.hubspot.stats().rejected, 2);
    assert!(world.app_contact("r@x.example").is_some());
}

#[tokio::test]
async fn a_hubspot_rate_limit_is_respected() {
    let world = World::with(WorldOptions {
        hubspot: emulators::HubSpotConfig {
            rate_limit: Some(emulators::RateLimit {
                max: 3,
                interval_ms: 300,
            }),
            ..emulators::HubSpotConfig::default()
        },
        ..WorldOptions::default()
    })
    .await;
    for i in 0..5 {
        world.hub_seed("organizations", json!({ "name": format!("Org {i}") }));
        world.hub_seed("people", json!({ "first_name": format!("P{i}"), "email": { "address": format!("p{i}@x.example") } }));
    }
    let run = world.sync().await;
    assert_eq!(run.status, RunStatus::Success, "{:?}", run.errors);
    assert_eq!(world.app("contacts").len(), 5);
    world.assert_agree().await;
}

#[tokio::test]
async fn malformed_responses_give_a_clear_error_and_change_nothing() {
    for (side, kind) in [
        ("connec", FaultKind::Malformed),
        ("hubspot", FaultKind::WrongShape),
    ] {
        let world = World::start().await;
        world.hub_seed(
            "people",
            json!({ "first_name": "M", "email": { "address": "m@x.example" } }),
        );
        world.app_seed(
            "contacts",
            json!({ "firstname": "N", "email": "n@x.example" }),
        );
        match side {
            "connec" => world
                .emulators
                .connec
                .fail_calls(CallFault::new("/people", kind, 0)),
            _ => world
                .emulators
                .hubspot
                .fail_calls(CallFault::new("/contacts", kind, 0)),
        }
        let run = world.sync().await;
        assert_eq!(run.status, RunStatus::Failed);
        let error = run
            .errors
            .iter()
            .find(|e| e.starts_with("people"))
            .expect("people phase failed");
        assert!(error.contains("malformed response"), "{side}: {error}");
        assert!(
            error.contains(side),
            "{side}: the error names the API: {error}"
        );
        // The broken side's records did not travel, and its watermark did not move.
        let source = if side == "connec" {
            Side::Hub
        } else {
            Side::App
        };
        let mark = world
            .store
            .get_watermark(&world.org, &EntityName::new("people"), source)
            .await
            .unwrap();
        assert!(mark.is_none(), "{side}: watermark moved");
        if side == "connec" {
            assert!(world.app_contact("m@x.example").is_none());
        } else {
            assert!(world.hub_person("n@x.example").is_none());
        }
        // Once the API behaves, the next run catches up.
        world.emulators.connec.clear_faults();
        world.emulators.hubspot.clear_faults();
        let next = world.sync().await;
        assert_eq!(next.status, RunStatus::Success, "{:?}", next.errors);
        world.assert_agree().await;
    }
}

#[tokio::test]
async fn archiving_travels_both_ways() {
    let world = World::start().await;
    let gone_in_hub = world.hub_seed(
        "people",
        json!({ "first_name": "G", "email": { "address": "g@x.example" } }),
    );
    world.hub_seed(
        "people",
        json!({ "first_name": "K", "email": { "address": "k@x.example" } }),
    );
    world.sync().await;
    world.hub_update("people", &gone_in_hub, json!({ "status": "INACTIVE" }));
    let k = world.app_contact("k@x.example").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(world.emulators.hubspot.archive("contacts", &k));
    let run = world.sync().await;
    assert_eq!(counts(&run, "people", Direction::ToApp).archived, 1);
    assert_eq!(counts(&run, "people", Direction::ToHub).archived, 1);
    assert!(world.app_contact("g@x.example").is_none());
    assert_eq!(
        world.hub_person("k@x.example").unwrap()["status"],
        json!("INACTIVE")
    );
    assert_eq!(world.app("contacts").len(), 0);
    // Inactive links are never recreated.
    let quiet = world.sync().await;
    assert_eq!(quiet.totals().written(), 0);
    assert!(record::is_inactive(
        &world.hub_person("g@x.example").unwrap()
    ));
}

#[tokio::test]
async fn a_record_rejected_on_both_sides_is_linked_once_when_both_accept_it() {
    let world = World::start().await;
    world.hub_seed(
        "people",
        json!({ "first_name": "Twin", "email": { "address": "twin@x.example" } }),
    );
    world.app_seed(
        "contacts",
        json!({ "firstname": "Twin", "lastname": "App", "email": "twin@x.example" }),
    );
    world
        .emulators
        .hubspot
        .fail_record(RecordFault::new("email", "twin@x.example"));
    world
        .emulators
        .connec
        .fail_record(RecordFault::new("email.address", "twin@x.example"));
    let run = world.sync().await;
    assert_eq!(run.status, RunStatus::Partial);
    assert_eq!(
        world.idmaps("people").await.len(),
        2,
        "two half-known id-maps hold the errors"
    );

    world.emulators.hubspot.clear_faults();
    world.emulators.connec.clear_faults();
    let next = world.sync().await;
    assert_eq!(
        next.status,
        RunStatus::Success,
        "{:?} {:?}",
        next.counts,
        next.errors
    );
    let maps = world.idmaps("people").await;
    assert_eq!(maps.len(), 1, "one link, not two: {maps:#?}");
    assert!(maps[0].is_linked());
    assert_eq!(world.hub("people").len(), 1);
    assert_eq!(world.app("contacts").len(), 1);
    world.assert_agree().await;
}

#[tokio::test]
async fn a_run_stopped_at_its_deadline_resumes_to_the_same_state_as_an_uninterrupted_run() {
    let seed = |world: &World| {
        for i in 0..12 {
            world.hub_seed("organizations", json!({ "name": format!("Org {i}") }));
        }
        for i in 0..250 {
            world.hub_seed("people", json!({ "first_name": format!("H{i}"), "email": { "address": format!("h{i}@x.example") } }));
        }
        for i in 0..120 {
            world.app_seed(
                "contacts",
                json!({ "firstname": format!("A{i}"), "email": format!("a{i}@x.example") }),
            );
        }
    };
    let straight = World::start().await;
    seed(&straight);
    assert_eq!(straight.sync().await.status, RunStatus::Success);

    // Records change on both sides in the middle of the chain of continuations.
    let edit = |world: &World| {
        let person = world.hub_person("h5@x.example").unwrap();
        world.hub_update(
            "people",
            &record::hub_id(&person).unwrap(),
            json!({ "last_name": "Edited" }),
        );
        let contact = world.app_contact("a5@x.example").unwrap();
        world.app_update(
            "contacts",
            contact["id"].as_str().unwrap(),
            json!({ "jobtitle": "Edited" }),
        );
    };
    edit(&straight);
    assert_eq!(straight.sync().await.status, RunStatus::Success);

    let interrupted = World::start().await;
    seed(&interrupted);
    // A deadline already past: every run processes one page, checkpoints and stops.
    let mut runs = 0;
    loop {
        runs += 1;
        assert!(runs < 50, "the continuations never finished");
        if runs == 4 {
            edit(&interrupted);
        }
        let run = interrupted
            .sync_with(RunOptions {
                deadline: Some(sync_core::domain::Timestamp::parse("0").unwrap()),
                ..RunOptions::default()
            })
            .await;
        assert!(run.errors.is_empty(), "{:?}", run.errors);
        if !run.needs_continuation {
            break;
        }
        assert_eq!(run.status, RunStatus::Partial);
    }
    assert!(runs >= 4, "the deadline interrupted the sync ({runs} runs)");
    let mut a = emails_of_contacts(&straight);
    let mut b = emails_of_contacts(&interrupted);
    a.sort();
    b.sort();
    assert_eq!(a, b);
    let mut a = emails_of_people(&straight);
    let mut b = emails_of_people(&interrupted);
    a.sort();
    b.sort();
    assert_eq!(a, b);
    assert_eq!(interrupted.idmaps("people").await.len(), 370);
    // One more run picks up what changed after a continuation had read past it.
    interrupted.sync().await;
    interrupted.assert_agree().await;
    for world in [&straight, &interrupted] {
        assert_eq!(
            world.hub_person("h5@x.example").unwrap()["last_name"],
            json!("Edited")
        );
        assert_eq!(
            world.hub_person("a5@x.example").unwrap()["job_title"],
            json!("Edited")
        );
        assert_eq!(
            world.app_contact("h5@x.example").unwrap()["properties"]["lastname"],
            json!("Edited")
        );
    }
    // And nothing is left to do.
    assert_eq!(interrupted.sync().await.totals().written(), 0);
}

#[tokio::test]
async fn a_connec_record_created_in_hubspot_carries_its_hubspot_id_afterwards() {
    let world = World::start().await;
    world.hub_seed(
        "people",
        json!({ "first_name": "Wb", "email": { "address": "wb@x.example" } }),
    );
    world.hub_seed("people", json!({ "first_name": "NoMail" }));
    world.hub_seed("organizations", json!({ "name": "Written Back" }));
    assert_eq!(world.sync().await.status, RunStatus::Success);

    let portal = cli::demo::PORTAL;
    for (collection, object) in [("people", "contacts"), ("organizations", "companies")] {
        for map in world.idmaps(collection).await {
            let hub_id = map.hub_id.clone().unwrap();
            let app_id = map.app_id.clone().unwrap();
            let record = world
                .hub(collection)
                .into_iter()
                .find(|r| record::hub_id(r).as_ref() == Some(&hub_id))
                .unwrap();
            let carried = record["id"].as_array().unwrap().iter().any(|e| {
                e["provider"] == "hubspot"
                    && e["realm"] == json!(portal)
                    && e["id"] == json!(app_id.as_str())
            });
            assert!(
                carried,
                "{collection} {hub_id} carries {object} {app_id}: {}",
                record["id"]
            );
        }
    }
    // The write-back does not echo.
    assert_eq!(world.sync().await.totals().written(), 0);
    world.assert_agree().await;
}
