//! A create into HubSpot whose answer was lost, then a conflict before the engine learns of
//! the record: the next run's match-before-create finds the record by its create marker and
//! *merges* the hub's version into it, without the conflict check a linked record gets, so the
//! app's newer edit is dropped. Found by the chaos suite (stress run, seed 302: `lost update:
//! R113 ... holds hub "L127" / app "L127", expected one of ["L128"]`, the app edit 1 ms newer).
//! The engine now links such a record to its lost create without writing, and decides it
//! on the next pass like any linked record changed on both sides.

use chaos::App;
use chaos::edits::{create, update};
use chaos::faults::lost_answer;
use chaos::ledger::{Kind, Ledger};
use chaos::world::World;
use sync_core::domain::{ConflictPolicy, Side};

async fn sync(world: &World) {
    // Faults may fail a run: the next one must repair it.
    let _ = world.sync().await;
}

#[tokio::test]
async fn a_conflict_on_a_lost_create_found_by_its_marker_is_decided_by_the_policy() {
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
        false,
    )
    .unwrap();
    // HubSpot commits the create, the answer is lost.
    world
        .sides
        .app
        .fail_calls(lost_answer("POST", "/batch/create", 1));
    sync(&world).await;
    world.sides.clear_faults();
    // A conflict, the app edit newer (HubSpot's clock is pushed ahead).
    assert!(update(&world.sides, &mut ledger, person, Side::Hub));
    assert!(update(&world.sides, &mut ledger, person, Side::App));
    let entry = &mut ledger.entries[person];
    let hub_at = entry.edits[entry.edits.len() - 2].at;
    let app_id = entry.app_id.clone().unwrap();
    assert!(world.hubspot().emulator.set_last_modified(
        "contacts",
        &app_id,
        hub_at.epoch_millis() + 5
    ));
    let record = world.sides.get(Side::App, Kind::Person, &app_id).unwrap();
    let app_edit = entry.edits.last_mut().unwrap();
    assert!(app_edit.other_pending);
    app_edit.at = world.sides.stamp(Side::App, Kind::Person, &record).unwrap();
    // The next run finds it through its create marker (match-before-create) and sees the
    // conflict.
    sync(&world).await;
    sync(&world).await;
    let found = world.check(&ledger).await;
    assert!(found.clean(), "{found:#?}");
}
