//! Conflicts whose two edits carry the same millisecond (HubSpot, most recent wins): the hub
//! wins an exact tie on every path the engine takes (scheduled sync, app webhook first,
//! Connec! notification first), and the suite's oracle agrees with what the engine may do when
//! a record's modification time moves after the conflicting edit without a mapped change.

use chaos::App;
use chaos::edits::{create, unmapped, update};
use chaos::ledger::{Kind, Ledger};
use chaos::world::World;
use sync_core::domain::{AppId, ConflictPolicy, EntityName, Side};

async fn sync(world: &World) {
    let run = world.sync().await.unwrap();
    assert!(run.errors.is_empty(), "{:?}", run.errors);
}

/// What both sides hold of record `index` (first field of each).
fn held(world: &World, ledger: &Ledger, index: usize) -> (String, String) {
    let entry = &ledger.entries[index];
    let read = |side: Side| {
        let id = entry.id(side).expect("linked");
        let record = world.sides.get(side, entry.kind, id).expect("present");
        world.sides.fields_of(side, entry.kind, &record).first()
    };
    (read(Side::Hub), read(Side::App))
}

/// A person created in Connec! and synced, then edited on the hub and, in a conflict, in
/// HubSpot, both edits stamped the same millisecond (the ledger records the stamp HubSpot
/// reports after it is pinned).
async fn tied_conflict() -> (World, Ledger, usize) {
    conflict(0).await
}

/// As [`tied_conflict`], the HubSpot edit stamped `app_later_ms` after the hub's.
async fn conflict(app_later_ms: i64) -> (World, Ledger, usize) {
    let world = World::start(App::HubSpot, ConflictPolicy::MostRecent, true)
        .await
        .unwrap();
    let mut ledger = Ledger::default();
    let person = create(
        &world.sides,
        &mut ledger,
        Side::Hub,
        Kind::Person,
        None,
        true,
    )
    .unwrap();
    sync(&world).await;
    assert!(world.check(&ledger).await.clean());
    assert!(update(&world.sides, &mut ledger, person, Side::Hub));
    assert!(update(&world.sides, &mut ledger, person, Side::App));
    let entry = &mut ledger.entries[person];
    let hub_at = entry.edits[entry.edits.len() - 2].at;
    let app_id = entry.app_id.clone().unwrap();
    assert!(world.hubspot().emulator.set_last_modified(
        "contacts",
        &app_id,
        hub_at.epoch_millis() + app_later_ms
    ));
    let record = world.sides.get(Side::App, Kind::Person, &app_id).unwrap();
    let app_at = world.sides.stamp(Side::App, Kind::Person, &record).unwrap();
    assert_eq!(
        app_at.epoch_millis(),
        hub_at.epoch_millis() + app_later_ms,
        "the stamps are in place"
    );
    let app_edit = entry.edits.last_mut().unwrap();
    assert!(app_edit.other_pending, "the app edit is a conflict");
    app_edit.at = app_at;
    (world, ledger, person)
}

fn hub_edit(ledger: &Ledger, index: usize) -> String {
    let entry = &ledger.entries[index];
    entry.edits[entry.edits.len() - 2].fields.first()
}

#[tokio::test]
async fn a_tie_goes_to_the_hub_in_a_scheduled_sync() {
    let (world, ledger, person) = tied_conflict().await;
    sync(&world).await;
    sync(&world).await;
    let hub = hub_edit(&ledger, person);
    assert_eq!(held(&world, &ledger, person), (hub.clone(), hub));
    let found = world.check(&ledger).await;
    assert!(found.clean(), "{found:#?}");
}

#[tokio::test]
async fn a_tie_goes_to_the_hub_when_the_app_webhook_comes_first() {
    let (world, ledger, person) = tied_conflict().await;
    let engine = world.engine.as_ref().unwrap();
    let app_id = ledger.entries[person].app_id.clone().unwrap();
    engine
        .apply_app_changes(
            &world.org,
            &EntityName::new("people"),
            vec![AppId::new(app_id)],
        )
        .await
        .unwrap();
    sync(&world).await;
    let hub = hub_edit(&ledger, person);
    assert_eq!(held(&world, &ledger, person), (hub.clone(), hub));
    assert!(world.check(&ledger).await.clean());
}

#[tokio::test]
async fn a_tie_goes_to_the_hub_when_the_connec_notification_comes_first() {
    let (world, ledger, person) = tied_conflict().await;
    let engine = world.engine.as_ref().unwrap();
    let entry = &ledger.entries[person];
    let record = world
        .sides
        .get(Side::Hub, Kind::Person, entry.hub_id.as_deref().unwrap())
        .unwrap();
    engine
        .apply_hub_records(&world.org, &EntityName::new("people"), vec![record])
        .await
        .unwrap();
    sync(&world).await;
    let hub = hub_edit(&ledger, person);
    assert_eq!(held(&world, &ledger, person), (hub.clone(), hub));
    assert!(world.check(&ledger).await.clean());
}

/// An unmapped edit in HubSpot after the tie moves the contact's `updatedAt` past the hub
/// edit: most recent then compares the records' current times, and the app wins. The oracle
/// must allow it (it did not: "lost update ... expected one of [hub]").
#[tokio::test]
async fn an_unmapped_app_edit_after_a_tie_may_hand_the_conflict_to_the_app() {
    let (world, mut ledger, person) = tied_conflict().await;
    assert!(unmapped(&world.sides, &mut ledger, person, Side::App));
    sync(&world).await;
    sync(&world).await;
    let app = ledger.entries[person].edits.last().unwrap().fields.first();
    assert_eq!(held(&world, &ledger, person), (app.clone(), app));
    let found = world.check(&ledger).await;
    assert!(found.clean(), "{found:#?}");
}

/// The mirror: the app edit is newer, then an unmapped Connec! edit leaves the hub record at
/// the app edit's millisecond; the tie goes to the hub, and the oracle allows it.
#[tokio::test]
async fn an_unmapped_hub_edit_to_the_app_edits_time_may_hand_the_conflict_to_the_hub() {
    let (world, mut ledger, person) = conflict(5).await;
    let app_at = ledger.entries[person].edits.last().unwrap().at;
    let pinned = chrono::DateTime::from_timestamp_millis(app_at.epoch_millis()).unwrap();
    world.sides.connec.set_time(Some(pinned));
    assert!(unmapped(&world.sides, &mut ledger, person, Side::Hub));
    world.sides.connec.set_time(None);
    assert_eq!(ledger.entries[person].touches.last().unwrap().at, app_at);
    sync(&world).await;
    sync(&world).await;
    let hub = hub_edit(&ledger, person);
    assert_eq!(held(&world, &ledger, person), (hub.clone(), hub));
    let found = world.check(&ledger).await;
    assert!(found.clean(), "{found:#?}");
}

/// Without the touch, the newer app edit wins (and only it is allowed).
#[tokio::test]
async fn a_newer_app_edit_wins_without_a_touch() {
    let (world, ledger, person) = conflict(5).await;
    sync(&world).await;
    sync(&world).await;
    let app = ledger.entries[person].edits.last().unwrap().fields.first();
    assert_eq!(held(&world, &ledger, person), (app.clone(), app));
    assert!(world.check(&ledger).await.clean());
}
