//! Complex entities: one app entity (`accounts`: a company with its contacts) read once and
//! split into the parts of two pairs (organizations, people), each part through its pair's own
//! pipeline; and back, each pair on its own.

mod support;

use std::sync::Arc;

use connec::testing::Fakes;
use serde_json::{Value, json};
use support::{World, prop};
use sync_core::domain::{AppId, Direction, EntityName, HubId, RunStatus, Side};
use sync_core::engine::{EngineConfig, SyncEngine};
use sync_core::entity::EntityGroup;
use sync_core::ports::SyncStore;
use sync_core::testing::{ACCOUNTS, GroupedApp};

fn grouped_world() -> (World, GroupedApp) {
    let fakes = Fakes::sample();
    let grouped = GroupedApp::new(fakes.app.clone());
    let engine = SyncEngine::new(
        Arc::new(fakes.store.clone()),
        Arc::new(fakes.hub.clone()),
        Arc::new(grouped.clone()),
        Arc::new(fakes.clock.clone()),
        EngineConfig {
            overlap: std::time::Duration::from_secs(1),
            ..EngineConfig::default()
        },
    );
    (World { fakes, engine }, grouped)
}

fn seed_account(world: &World) -> (AppId, AppId, AppId) {
    let app = &world.fakes.app;
    let company = app.seed("companies", json!({ "name": "Acme", "industry": "Steel" }));
    let ann = app.seed(
        "contacts",
        json!({ "firstname": "Ann", "lastname": "Lee", "email": "ann@acme.test", "company_id": company.as_str() }),
    );
    let bob = app.seed(
        "contacts",
        json!({ "firstname": "Bob", "lastname": "Ray", "email": "bob@acme.test", "company_id": company.as_str() }),
    );
    (company, ann, bob)
}

/// Whether a hub reference names `id` (a plain id or an id array holding it).
fn refers_to(reference: &Value, id: &HubId) -> bool {
    match reference {
        Value::String(s) => s == id.as_str(),
        Value::Array(ids) => ids.iter().any(|e| e["id"] == id.as_str()),
        _ => false,
    }
}

#[tokio::test]
async fn a_company_with_two_contacts_becomes_one_organization_and_two_people_in_one_read() {
    let (world, grouped) = grouped_world();
    let (company, ann, bob) = seed_account(&world);

    let run = world.sync().await;

    assert_eq!(run.status, RunStatus::Success, "{run:?}");
    assert_eq!(run.counts_for("organizations", Direction::ToHub).created, 1);
    assert_eq!(run.counts_for("people", Direction::ToHub).created, 2);
    let orgs = world.hub_all("organizations");
    assert_eq!(orgs.len(), 1, "{orgs:?}");
    assert_eq!(orgs[0]["name"], "Acme");
    let org = world.hub_id_of("organizations", &company).await;
    let people = world.hub_all("people");
    assert_eq!(people.len(), 2, "{people:?}");
    for (contact, first) in [(&ann, "Ann"), (&bob, "Bob")] {
        let person = world.hub_get("people", &world.hub_id_of("people", contact).await);
        assert_eq!(person["first_name"], first);
        assert!(
            refers_to(&person["organization_id"], &org),
            "the person's organization is the company's: {person}"
        );
    }
    // The app side was read through the group only: one page, no page of a part entity.
    assert_eq!(grouped.group_reads(), 1);
    assert_eq!(grouped.part_pages(), 0);
    let key = EntityGroup::new(ACCOUNTS, &[]).key();
    assert!(
        world
            .fakes
            .store
            .get_watermark(&world.fakes.org.id, &key, Side::App)
            .await
            .unwrap()
            .is_some(),
        "the group's watermark is kept under its own key"
    );
}

#[tokio::test]
async fn and_back_each_pair_travels_on_its_own_with_references_intact() {
    let (world, grouped) = grouped_world();
    let (company, ann, _) = seed_account(&world);
    world.sync().await;
    let org = world.hub_id_of("organizations", &company).await;

    // A new person of the organization in Connec!, and an edit of Ann.
    let cy = world.hub_seed(
        "people",
        json!({ "first_name": "Cy", "last_name": "Moe", "email": { "address": "cy@acme.test" }, "organization_id": org.as_str() }),
    );
    let ann_hub = world.hub_id_of("people", &ann).await;
    world.hub_edit("people", &ann_hub, |p| p["job_title"] = json!("CFO"));
    let run = world.sync().await;

    assert_eq!(run.status, RunStatus::Success, "{run:?}");
    assert_eq!(run.counts_for("people", Direction::ToApp).created, 1);
    assert_eq!(run.counts_for("people", Direction::ToApp).updated, 1);
    let cy_app = world.app_id_of("people", &cy).await;
    let cy_contact = world.app_get("contacts", &cy_app);
    assert_eq!(
        *prop(&cy_contact, "company_id"),
        company.as_str(),
        "joined to its company through the translated reference"
    );
    assert_eq!(*prop(&world.app_get("contacts", &ann), "jobtitle"), "CFO");
    assert_eq!(grouped.part_pages(), 0);

    // Nothing changed since: no write on either side (the group's re-read is a no-op).
    world.fakes.app.reset_counts();
    world.fakes.hub.reset_counts();
    let quiet = world.sync().await;
    assert_eq!(quiet.status, RunStatus::Success);
    assert_eq!(world.fakes.app.counts().written(), 0, "{quiet:?}");
    assert_eq!(world.fakes.hub.counts().written(), 0, "{quiet:?}");
}

#[tokio::test]
async fn a_webhook_of_a_group_record_splits_it_and_updates_each_part() {
    let (world, _grouped) = grouped_world();
    let (company, _, bob) = seed_account(&world);
    world.sync().await;
    world.fakes.app.edit("contacts", bob.as_str(), |c| {
        c["properties"]["jobtitle"] = json!("CTO")
    });
    world.fakes.app.edit("companies", company.as_str(), |c| {
        c["properties"]["industry"] = json!("Glass")
    });

    // Webhooks name app records (the account), whatever member pair they are routed to.
    let counts = world
        .engine
        .apply_app_changes(
            &world.fakes.org.id,
            &EntityName::new("people"),
            vec![company.clone()],
        )
        .await
        .expect("applied");

    assert_eq!(counts.updated, 2, "{counts:?}");
    let person = world.hub_get("people", &world.hub_id_of("people", &bob).await);
    assert_eq!(person["job_title"], "CTO");
    let org = world.hub_get(
        "organizations",
        &world.hub_id_of("organizations", &company).await,
    );
    assert_eq!(org["industry"], "Glass");
}

#[tokio::test]
async fn a_member_switched_off_towards_the_hub_drops_its_parts_and_the_others_travel() {
    let (mut world, _grouped) = grouped_world();
    world
        .update_org(|org| {
            org.entity_flags.insert(
                EntityName::new("people"),
                sync_core::domain::DirectionFlags {
                    to_hub: false,
                    to_app: true,
                },
            );
        })
        .await;
    seed_account(&world);

    let run = world.sync().await;

    assert_eq!(run.status, RunStatus::Success, "{run:?}");
    assert_eq!(world.hub_all("organizations").len(), 1);
    assert_eq!(world.hub_all("people").len(), 0);
}

#[tokio::test]
async fn a_record_that_cannot_be_split_fails_alone() {
    let (world, grouped) = grouped_world();
    let (broken, _, _) = seed_account(&world);
    let fine = world
        .fakes
        .app
        .seed("companies", json!({ "name": "Fine Ltd" }));
    grouped.break_account(broken.as_str());

    let run = world.sync().await;

    assert_eq!(run.status, RunStatus::Partial, "{run:?}");
    let orgs = run.counts_for("organizations", Direction::ToHub);
    assert_eq!((orgs.created, orgs.failed), (1, 1), "{run:?}");
    let names: Vec<Value> = world
        .hub_all("organizations")
        .into_iter()
        .map(|o| o["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("Fine Ltd")]);
    world.hub_id_of("organizations", &fine).await;
}
