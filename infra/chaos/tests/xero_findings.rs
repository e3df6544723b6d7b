//! The smallest reproductions of what the chaos suite found on Xero, outside the suite. Each is
//! ignored until the connector is fixed (the reason names the fix); `cargo test -p chaos
//! --test xero_findings -- --ignored` runs them.

use chaos::App;
use chaos::faults::lost_answer;
use chaos::ledger::Kind;
use chaos::world::{GROUP, World};
use emulators::{CallFault, FaultKind};
use serde_json::{Value, json};
use sync_core::domain::{ConflictPolicy, Side};

async fn sync(world: &World) {
    // Faults may fail a run: the next one must repair it.
    let _ = world.sync().await;
}

fn hub_people_named(world: &World, first: &str) -> Vec<Value> {
    world
        .sides
        .all(Side::Hub, Kind::Person)
        .into_iter()
        .filter(|r| r["first_name"] == first)
        .collect()
}

/// One wrong-shaped 200 answer (`{"data": []}`) to the read of a linked contact makes it look
/// deleted: the Connec! organization goes INACTIVE and its id-map inactive, for good.
#[tokio::test]
async fn a_wrong_shaped_answer_does_not_archive_a_linked_company() {
    let world = World::start(App::Xero, ConflictPolicy::MostRecent, true)
        .await
        .unwrap();
    let org = world
        .sides
        .connec
        .seed(GROUP, "organizations", json!({ "name": "Co1" }));
    let id = connec::record::hub_id(&org).unwrap().to_string();
    sync(&world).await;
    world.sides.connec.update(
        GROUP,
        "organizations",
        &id,
        json!({ "phone": { "landline": "7771" } }),
    );
    world.sides.app.fail_calls(CallFault {
        method: Some("GET".into()),
        path_contains: "/Contacts".into(),
        times: 1,
        kind: FaultKind::WrongShape,
    });
    sync(&world).await;
    world.sides.clear_faults();
    sync(&world).await;
    let now = world.sides.get(Side::Hub, Kind::Company, &id).unwrap();
    assert_eq!(now["status"], "ACTIVE", "{now}");
}

/// A contact person without e-mail is known by its name: renamed from Connec!, with the answer
/// of the write lost after Xero committed it, it comes back as a new Connec! person and the
/// first one goes INACTIVE.
#[tokio::test]
#[ignore = "open: the link is not moved to the person's new id (derived from its name) when the rename's answer was lost"]
async fn a_renamed_contact_person_without_email_stays_one_person() {
    let world = World::start(App::Xero, ConflictPolicy::MostRecent, true)
        .await
        .unwrap();
    let org = world
        .sides
        .connec
        .seed(GROUP, "organizations", json!({ "name": "Co1" }));
    let org_id = connec::record::hub_id(&org).unwrap().to_string();
    let person = world.sides.connec.seed(
        GROUP,
        "people",
        json!({ "first_name": "R2", "last_name": "L2", "organization_id": org_id }),
    );
    let id = connec::record::hub_id(&person).unwrap().to_string();
    sync(&world).await;
    sync(&world).await;
    world
        .sides
        .connec
        .update(GROUP, "people", &id, json!({ "last_name": "L3" }));
    world
        .sides
        .app
        .fail_calls(lost_answer("POST", "/Contacts", 1));
    sync(&world).await;
    world.sides.clear_faults();
    for _ in 0..3 {
        sync(&world).await;
    }
    let people = hub_people_named(&world, "R2");
    let active: Vec<&Value> = people
        .iter()
        .filter(|p| p["status"] != "INACTIVE")
        .collect();
    assert_eq!(people.len(), 1, "{people:#?}");
    assert_eq!(active.len(), 1, "{people:#?}");
}

/// Not a bug, the rule the ledger follows on Xero: a contact person has no timestamp of its own,
/// its part carries its contact's `UpdatedDateUTC`. A person edited in Xero, then in Connec!,
/// then its company edited in Xero: under most recent, the Xero version wins (its part looks
/// newer), although the Connec! edit was made after it. The ledger allows either there.
#[tokio::test]
async fn a_contact_person_is_as_recent_as_its_contact() {
    use chaos::edits::{create, update};
    use chaos::ledger::Ledger;
    let world = World::start(App::Xero, ConflictPolicy::MostRecent, true)
        .await
        .unwrap();
    let mut ledger = Ledger::default();
    let sides = &world.sides;
    let company = create(sides, &mut ledger, Side::App, Kind::Company, None, false).unwrap();
    let person = create(
        sides,
        &mut ledger,
        Side::App,
        Kind::Person,
        Some(company),
        true,
    )
    .unwrap();
    sync(&world).await;
    let pause = || tokio::time::sleep(std::time::Duration::from_millis(20));
    assert!(update(sides, &mut ledger, person, Side::App));
    pause().await;
    assert!(update(sides, &mut ledger, person, Side::Hub));
    pause().await;
    assert!(update(sides, &mut ledger, company, Side::App));
    sync(&world).await;
    let entry = &ledger.entries[person];
    let (app_edit, hub_edit) = (&entry.edits[1], &entry.edits[2]);
    assert!(hub_edit.at > app_edit.at && hub_edit.other_pending);
    let held = sides.fields_of(
        Side::Hub,
        Kind::Person,
        &sides
            .get(Side::Hub, Kind::Person, entry.hub_id.as_ref().unwrap())
            .unwrap(),
    );
    assert_eq!(held, app_edit.fields, "the Xero edit won");
    let app = sides
        .get(Side::App, Kind::Person, entry.app_id.as_ref().unwrap())
        .unwrap();
    let allowed = entry.allowed(ConflictPolicy::MostRecent, |t| {
        sides.app.touched_after(Kind::Person, &app, t)
    });
    assert!(allowed.contains(&&app_edit.fields) && allowed.contains(&&hub_edit.fields));
    assert_eq!(
        entry.allowed(ConflictPolicy::MostRecent, |_| false),
        vec![&hub_edit.fields],
        "the rule without the contact's timestamp would call it a lost update"
    );
}

/// A contact person removed from its contact in Xero (Xero's only way to delete one) leaves
/// nothing a poll or a webhook shows: the Connec! person stays ACTIVE.
#[tokio::test]
#[ignore = "the engine does not see a part that vanished from its record (no deleted parts)"]
async fn a_contact_person_removed_in_xero_goes_inactive_in_connec() {
    use chaos::edits::create;
    use chaos::ledger::Ledger;
    let world = World::start(App::Xero, ConflictPolicy::MostRecent, true)
        .await
        .unwrap();
    let mut ledger = Ledger::default();
    let sides = &world.sides;
    let company = create(sides, &mut ledger, Side::App, Kind::Company, None, false).unwrap();
    let person = create(
        sides,
        &mut ledger,
        Side::App,
        Kind::Person,
        Some(company),
        true,
    )
    .unwrap();
    sync(&world).await;
    let hub_id = chaos::edits::locate(sides, &mut ledger.entries[person], Side::Hub).unwrap();
    let contact_id = ledger.entries[company].app_id.clone().unwrap();
    let emulator = &world.xero().emulator;
    let mut contact = emulator
        .get_in(emulators::xero::DEMO_TENANT_ID, "Contacts", &contact_id)
        .unwrap();
    contact["ContactPersons"] = json!([]);
    emulator.seed_in(emulators::xero::DEMO_TENANT_ID, "Contacts", contact);
    sync(&world).await;
    let now = world.sides.get(Side::Hub, Kind::Person, &hub_id).unwrap();
    assert_eq!(now["status"], "INACTIVE", "{now}");
}

/// A person without e-mail created from Connec! as a Xero person contact, every answer of the
/// create lost (Xero committed it), then renamed in Connec! before the next sync: the retry
/// cannot match the first contact (no e-mail, another name), its idempotency key is refused
/// with another body, and a second contact is created; the first comes back as a second
/// Connec! person.
#[tokio::test]
#[ignore = "a lost create of a person without e-mail is not recognised once the person changed"]
async fn a_lost_create_of_a_person_without_email_makes_no_duplicate() {
    let world = World::start(App::Xero, ConflictPolicy::MostRecent, true)
        .await
        .unwrap();
    let person = world.sides.connec.seed(
        GROUP,
        "people",
        json!({ "first_name": "R1", "last_name": "L1" }),
    );
    let id = connec::record::hub_id(&person).unwrap().to_string();
    world
        .sides
        .app
        .fail_calls(lost_answer("POST", "/Contacts", 10));
    sync(&world).await;
    world.sides.clear_faults();
    world
        .sides
        .connec
        .update(GROUP, "people", &id, json!({ "last_name": "L2" }));
    for _ in 0..3 {
        sync(&world).await;
    }
    let xero: Vec<Value> = world
        .sides
        .all(Side::App, Kind::Person)
        .into_iter()
        .filter(|p| p["FirstName"] == "R1")
        .collect();
    let hub = hub_people_named(&world, "R1");
    assert_eq!((xero.len(), hub.len()), (1, 1), "{xero:#?} {hub:#?}");
}
