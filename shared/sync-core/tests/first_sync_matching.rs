//! Match-before-create on a first sync: when the same run listed the app's entity in full and
//! found it empty, and the connector says its listing shows every record a match could find,
//! the creates of that run need no match queries (the app held nothing to match). Everything
//! else still asks the app first.

mod support;

use serde_json::{Value, json};
use support::{World, prop};
use sync_core::domain::Direction;
use sync_core::engine::RunOptions;
use sync_core::testing::{AppOp, Failure};

fn person(first: &str, email: &str) -> Value {
    json!({ "first_name": first, "last_name": "Doe", "email": { "address": email } })
}

fn seed_people(world: &World, n: usize) {
    for i in 0..n {
        world.hub_seed(
            "people",
            person(&format!("P{i}"), &format!("p{i}@example.com")),
        );
    }
}

fn opted_in() -> World {
    let world = World::new();
    world.fakes.app.set_listing_shows_every_match(true);
    world
}

#[tokio::test]
async fn a_first_sync_into_an_app_listed_empty_creates_without_match_queries() {
    let world = opted_in();
    world.fakes.app.set_page_size(10);
    seed_people(&world, 25);
    let run = world.sync().await;

    assert_eq!(
        run.counts_for("people", Direction::ToApp).created,
        25,
        "{run:?}"
    );
    assert_eq!(world.fakes.app.calls(AppOp::FindMatches), 0);
    assert_eq!(world.app_live("contacts").len(), 25);
    // Nothing is written twice afterwards.
    let again = world.sync().await;
    assert_eq!(again.counts_for("people", Direction::ToApp).created, 0);
    assert_eq!(world.app_live("contacts").len(), 25);
}

#[tokio::test]
async fn a_connector_that_does_not_vouch_for_its_listing_is_always_asked() {
    let world = World::new();
    seed_people(&world, 3);
    world.sync().await;

    assert!(world.fakes.app.calls(AppOp::FindMatches) > 0);
    assert_eq!(world.app_live("contacts").len(), 3);
}

#[tokio::test]
async fn an_app_that_holds_records_is_asked_and_its_record_is_merged() {
    let world = opted_in();
    let contact = world.fakes.app.seed(
        "contacts",
        json!({ "firstname": "Ann", "lastname": "Doe", "email": "ann@example.com" }),
    );
    world.hub_seed("people", person("Ann", "ann@example.com"));
    world.hub_seed("people", person("Bob", "bob@example.com"));
    world.sync().await;

    assert!(world.fakes.app.calls(AppOp::FindMatches) > 0);
    let live = world.app_live("contacts");
    assert_eq!(live.len(), 2, "Ann merged, Bob created: {live:?}");
    assert_eq!(
        prop(&world.app_get("contacts", &contact), "firstname"),
        "Ann"
    );
}

#[tokio::test]
async fn later_syncs_read_the_app_incrementally_and_ask_again() {
    let world = opted_in();
    seed_people(&world, 2);
    world.sync().await;
    assert_eq!(world.fakes.app.calls(AppOp::FindMatches), 0);

    world.hub_seed("people", person("Late", "late@example.com"));
    world.sync().await;
    assert!(
        world.fakes.app.calls(AppOp::FindMatches) > 0,
        "an incremental listing says nothing of the records before it"
    );
    assert_eq!(world.app_live("contacts").len(), 3);
}

#[tokio::test]
async fn a_full_resync_over_an_app_that_holds_records_asks() {
    let world = opted_in();
    seed_people(&world, 2);
    world.sync().await;
    world.hub_seed("people", person("New", "new@example.com"));
    let before = world.fakes.app.calls(AppOp::FindMatches);
    world
        .sync_with(RunOptions {
            full: true,
            ..RunOptions::default()
        })
        .await;
    assert!(world.fakes.app.calls(AppOp::FindMatches) > before);
    assert_eq!(world.app_live("contacts").len(), 3);
}

#[tokio::test]
async fn a_lost_answer_on_a_first_sync_into_an_empty_app_duplicates_nothing() {
    let world = opted_in();
    world.fakes.app.set_page_size(5);
    seed_people(&world, 12);
    // The first write's answer is lost after the app committed it: that run's phase ends, and
    // the next runs (whose listings are not empty) find the records through their markers.
    world.fakes.app.commit_then_timeout(AppOp::Write, 1);
    world.sync().await;
    world.sync().await;
    world.sync().await;

    assert_eq!(
        world.app_live("contacts").len(),
        12,
        "no duplicate, nothing lost: {:?}",
        world.app_live("contacts")
    );
}

#[tokio::test]
async fn an_app_listing_that_failed_half_way_is_not_taken_as_empty() {
    let world = opted_in();
    seed_people(&world, 3);
    // The first listings of the run (companies, then contacts) fail.
    world
        .fakes
        .app
        .fail_next(AppOp::FetchPage, 2, Failure::Status(502));
    world.sync().await;

    assert!(world.fakes.app.calls(AppOp::FindMatches) > 0);
    assert_eq!(world.app_live("contacts").len(), 3);
}
