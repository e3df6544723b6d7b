//! The checks find what they are meant to find: a suite whose checks always pass proves
//! nothing.

use chaos::App;
use chaos::edits::{archive, create};
use chaos::ledger::{Fields, Kind, Ledger};
use chaos::world::{GROUP, World};
use serde_json::json;
use sync_core::domain::{ConflictPolicy, Side};

async fn duplicates_disagreements_lost_updates_and_stuck_archives_are_counted(app: App) {
    let world = World::start(app, ConflictPolicy::MostRecent, true)
        .await
        .unwrap();
    let mut ledger = Ledger::default();
    let company = create(
        &world.sides,
        &mut ledger,
        Side::Hub,
        Kind::Company,
        None,
        false,
    )
    .unwrap();
    let ann = create(
        &world.sides,
        &mut ledger,
        Side::Hub,
        Kind::Person,
        Some(company),
        true,
    )
    .unwrap();
    let bob = create(
        &world.sides,
        &mut ledger,
        Side::App,
        Kind::Person,
        None,
        false,
    )
    .unwrap();
    let cy = create(
        &world.sides,
        &mut ledger,
        Side::App,
        Kind::Person,
        None,
        true,
    )
    .unwrap();
    world.sync().await.unwrap();
    let clean = world.check(&ledger).await;
    assert!(clean.clean(), "{clean:#?}");

    // A change the ledger does not know of, on one side only.
    let bob_app = ledger.entries[bob].app_id.clone().unwrap();
    let alien = Fields(vec!["Alien".into(); 4]);
    assert!(
        world
            .sides
            .app
            .update(Kind::Person, &bob_app, &alien)
            .is_some()
    );
    // A second active record with Ann's key.
    world.sides.connec.seed(
        GROUP,
        "people",
        json!({ "first_name": ledger.entries[ann].key }),
    );
    // An archive that has not travelled.
    assert!(archive(&world.sides, &mut ledger, cy, Side::App));

    let found = world.check(&ledger).await;
    assert_eq!(found.duplicates, 1, "{found:#?}");
    assert_eq!(found.lost, 1, "{found:#?}");
    assert_eq!(
        found.mismatched, 2,
        "Bob's fields and Cy's archive: {found:#?}"
    );
    assert_eq!(found.dangling, 0);
    assert!(!found.clean());
}

#[tokio::test]
async fn the_checks_find_on_hubspot() {
    duplicates_disagreements_lost_updates_and_stuck_archives_are_counted(App::HubSpot).await;
}

#[tokio::test]
async fn the_checks_find_on_xero() {
    duplicates_disagreements_lost_updates_and_stuck_archives_are_counted(App::Xero).await;
}
