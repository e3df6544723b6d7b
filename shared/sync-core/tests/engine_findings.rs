//! The engine review's findings (F1-F14) and those of the randomized run, each as a scenario
//! over the in-memory fakes, named after what it protects.

mod support;

use connec::testing::HubOp;
use serde_json::{Value, json};
use support::{World, inactive, prop};
use sync_core::domain::{ConflictPolicy, Direction, EntityName, RunStatus};
use sync_core::engine::RunOptions;
use sync_core::testing::{AppOp, Failure, Order};

fn person(first: &str, email: &str) -> Value {
    json!({ "first_name": first, "last_name": "Doe", "email": { "address": email } })
}

fn contact(first: &str, email: &str) -> Value {
    json!({ "firstname": first, "lastname": "Doe", "email": email })
}

// ----------------------------------------------------------------------------- F1

#[tokio::test]
async fn a_new_hub_record_never_writes_into_an_app_record_linked_to_another() {
    let world = World::new();
    let h1 = world.hub_seed(
        "organizations",
        json!({ "name": "Acme", "industry": "Steel" }),
    );
    world.sync().await;
    let c1 = world.app_id_of("organizations", &h1).await;

    // Another app created a second "Acme" in Connec!.
    let h2 = world.hub_seed(
        "organizations",
        json!({ "name": "Acme", "industry": "Food" }),
    );
    world.sync().await;
    world.sync().await;

    assert_eq!(prop(&world.app_get("companies", &c1), "industry"), "Steel");
    let c2 = world.app_id_of("organizations", &h2).await;
    assert_ne!(c1, c2, "H2 has a company of its own");
    assert_eq!(prop(&world.app_get("companies", &c2), "industry"), "Food");
    assert_eq!(world.hub_get("organizations", &h1)["industry"], "Steel");
}

#[tokio::test]
async fn a_new_app_record_never_merges_into_a_hub_record_linked_to_another() {
    let world = World::new();
    let c1 = world
        .fakes
        .app
        .seed("companies", json!({ "name": "Acme", "industry": "Steel" }));
    world.sync().await;
    let before = world.hub_all("organizations");
    assert_eq!(before.len(), 1);

    let c2 = world
        .fakes
        .app
        .seed("companies", json!({ "name": "Acme", "industry": "Food" }));
    world.sync().await;
    world.sync().await;

    let orgs = world.hub_all("organizations");
    assert_eq!(
        orgs.len(),
        2,
        "the second Acme is a record of its own: {orgs:?}"
    );
    let industries: Vec<&Value> = orgs.iter().map(|o| &o["industry"]).collect();
    assert!(industries.contains(&&json!("Steel")) && industries.contains(&&json!("Food")));
    assert_eq!(prop(&world.app_get("companies", &c1), "industry"), "Steel");
    assert_eq!(prop(&world.app_get("companies", &c2), "industry"), "Food");
}

#[tokio::test]
async fn two_new_hub_records_matching_one_free_app_record_link_only_one_of_them() {
    let world = World::new();
    world.fakes.app.seed("companies", json!({ "name": "Acme" }));
    world.sync().await;
    // Two more "Acme" in Connec!, and an unrelated one, in one page.
    let a = world.hub_seed("organizations", json!({ "name": "Acme", "industry": "A" }));
    let b = world.hub_seed("organizations", json!({ "name": "Acme", "industry": "B" }));
    let other = world.hub_seed("organizations", json!({ "name": "Other" }));
    let run = world.sync().await;
    assert_eq!(run.status, RunStatus::Success, "{run:?}");
    let (ca, cb) = (
        world.app_id_of("organizations", &a).await,
        world.app_id_of("organizations", &b).await,
    );
    assert_ne!(ca, cb);
    world.app_id_of("organizations", &other).await;
}

// ----------------------------------------------------------------------------- F2

#[tokio::test]
async fn an_app_deletion_reaches_the_hub_even_when_the_hub_record_changed_first() {
    let world = World::new();
    let h = world.hub_seed("people", person("Ann", "ann@example.com"));
    world.sync().await;
    let c = world.app_id_of("people", &h).await;

    world.fakes.app.archive_record("contacts", c.as_str());
    world.hub_edit("people", &h, |p| p["job_title"] = json!("CEO"));
    world.sync().await;

    assert!(
        inactive(&world.hub_get("people", &h)),
        "the deletion travelled"
    );
    assert!(world.map_of_hub("people", &h).await.unwrap().inactive);
    // And it stays so: the next run neither recreates nor reactivates anything.
    world.sync().await;
    assert_eq!(world.app_live("contacts").len(), 0);
}

#[tokio::test]
async fn an_app_record_deleted_for_good_reaches_the_hub_when_the_hub_record_changes() {
    let world = World::new();
    let h = world.hub_seed("people", person("Ann", "ann@example.com"));
    world.sync().await;
    let c = world.app_id_of("people", &h).await;
    // Gone without a trace: no incremental read will ever list it.
    world.fakes.app.delete("contacts", c.as_str());
    world.hub_edit("people", &h, |p| p["job_title"] = json!("CEO"));
    let notification = world.hub_get("people", &h);
    world
        .engine
        .apply_hub_records(
            &world.fakes.org.id,
            &EntityName::new("people"),
            vec![notification],
        )
        .await
        .expect("applied");
    assert!(
        inactive(&world.hub_get("people", &h)),
        "the deletion travelled back"
    );
    world.sync().await;
    assert_eq!(world.fakes.app.all("contacts").len(), 0, "never recreated");
}

#[tokio::test]
async fn a_deletion_webhook_alone_makes_the_hub_record_inactive() {
    let world = World::new();
    let h = world.hub_seed("people", person("Ann", "ann@example.com"));
    world.sync().await;
    let c = world.app_id_of("people", &h).await;
    world.fakes.app.delete("contacts", c.as_str());

    world
        .engine
        .apply_app_changes(&world.fakes.org.id, &EntityName::new("people"), vec![c])
        .await
        .expect("applied");
    assert!(inactive(&world.hub_get("people", &h)));
}

// ----------------------------------------------------------------------------- F3

#[tokio::test]
async fn the_history_cutoff_never_freezes_a_record_merged_with_an_old_one() {
    let mut world = World::new();
    // A Connec! person from before the link, and historical data off.
    let old = world.hub_seed(
        "people",
        json!({ "first_name": "Ann", "email": { "address": "ann@example.com" },
                "created_at": "2023-01-01T00:00:00Z", "updated_at": "2023-01-01T00:00:00Z" }),
    );
    let cutoff = world.now();
    world.update_org(|o| o.history_from = Some(cutoff)).await;
    // A HubSpot contact created after the link, with the same e-mail.
    let c = world
        .fakes
        .app
        .seed("contacts", contact("Ann", "ann@example.com"));
    world.sync().await;
    assert_eq!(world.app_id_of("people", &old).await, c, "merged by e-mail");

    world.hub_edit("people", &old, |p| p["job_title"] = json!("CTO"));
    world.sync().await;
    assert_eq!(prop(&world.app_get("contacts", &c), "jobtitle"), "CTO");
    world.fakes.app.edit("contacts", c.as_str(), |r| {
        r["properties"]["lastname"] = json!("Roe")
    });
    world.sync().await;
    assert_eq!(world.hub_get("people", &old)["last_name"], "Roe");
}

#[tokio::test]
async fn records_older_than_the_cutoff_do_not_start_travelling() {
    let mut world = World::new();
    world.hub_seed(
        "people",
        json!({ "first_name": "Old", "email": { "address": "old@example.com" },
                "created_at": "2023-01-01T00:00:00Z", "updated_at": "2023-01-01T00:00:00Z" }),
    );
    let cutoff = world.now();
    world.update_org(|o| o.history_from = Some(cutoff)).await;
    let new = world.hub_seed("people", person("New", "new@example.com"));
    world.sync().await;
    let live = world.app_live("contacts");
    assert_eq!(live.len(), 1, "{live:?}");
    world.app_id_of("people", &new).await;
}

// ----------------------------------------------------------------------------- F4

/// An app change applied first (its webhook) must not overwrite a newer Connec! edit.
#[tokio::test]
async fn an_older_app_edit_never_overwrites_a_newer_hub_edit_in_real_time() {
    let world = World::new();
    let h = world.hub_seed("people", person("Ann", "ann@example.com"));
    world.sync().await;
    let c = world.app_id_of("people", &h).await;

    world.fakes.app.edit("contacts", c.as_str(), |r| {
        r["properties"]["jobtitle"] = json!("Old")
    });
    world.fakes.clock.advance_secs(1);
    world.hub_edit("people", &h, |p| p["job_title"] = json!("New"));
    world
        .engine
        .apply_app_changes(
            &world.fakes.org.id,
            &EntityName::new("people"),
            vec![c.clone()],
        )
        .await
        .expect("applied");

    assert_eq!(world.hub_get("people", &h)["job_title"], "New");
    assert_eq!(
        *prop(&world.app_get("contacts", &c), "jobtitle"),
        "New",
        "the newer side won"
    );
    // The late Connec! notification is then a no-op.
    let notification = world.hub_get("people", &h);
    world
        .engine
        .apply_hub_records(
            &world.fakes.org.id,
            &EntityName::new("people"),
            vec![notification],
        )
        .await
        .expect("applied");
    assert_eq!(prop(&world.app_get("contacts", &c), "jobtitle"), "New");
}

#[tokio::test]
async fn app_to_hub_honours_every_policy_against_the_hubs_current_version() {
    for (policy, expect) in [
        (ConflictPolicy::HubWins, "hub"),
        (ConflictPolicy::AppWins, "app"),
        (ConflictPolicy::MostRecent, "hub"),
    ] {
        let world = World::with_policy(policy);
        let h = world.hub_seed("people", person("Ann", "ann@example.com"));
        world.sync().await;
        let c = world.app_id_of("people", &h).await;
        world.fakes.app.edit("contacts", c.as_str(), |r| {
            r["properties"]["jobtitle"] = json!("app")
        });
        world.fakes.clock.advance_secs(1);
        world.hub_edit("people", &h, |p| p["job_title"] = json!("hub"));
        // The real-time path, then a scheduled sync: both follow the policy.
        world
            .engine
            .apply_app_changes(
                &world.fakes.org.id,
                &EntityName::new("people"),
                vec![c.clone()],
            )
            .await
            .expect("applied");
        world.sync().await;
        assert_eq!(
            world.hub_get("people", &h)["job_title"],
            expect,
            "{policy:?}"
        );
        assert_eq!(
            *prop(&world.app_get("contacts", &c), "jobtitle"),
            expect,
            "{policy:?}"
        );
    }
}

#[tokio::test]
async fn a_parked_hub_edit_is_not_overwritten_by_the_same_runs_app_to_hub_phase() {
    let world = World::with_policy(ConflictPolicy::HubWins);
    let h = world.hub_seed("people", person("Ann", "ann@example.com"));
    world.sync().await;
    let c = world.app_id_of("people", &h).await;
    world.hub_edit("people", &h, |p| p["job_title"] = json!("hub"));
    world.fakes.app.reject(c.as_str());
    world.fakes.app.edit("contacts", c.as_str(), |r| {
        r["properties"]["jobtitle"] = json!("app")
    });
    world.sync().await;
    assert_eq!(
        world.hub_get("people", &h)["job_title"],
        "hub",
        "the hub edit survives"
    );
    world.fakes.app.accept(c.as_str());
    world.sync().await;
    assert_eq!(prop(&world.app_get("contacts", &c), "jobtitle"), "hub");
}

// ----------------------------------------------------------------------------- F6

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_found_by_its_marker_not_created_twice() {
    let world = World::new();
    // No e-mail: nothing natural to match on.
    let h = world.hub_seed("people", json!({ "first_name": "Nomail" }));
    world.fakes.app.commit_then_timeout(AppOp::Write, 1);
    world.sync().await;
    assert_eq!(world.app_live("contacts").len(), 1, "the create happened");
    world.sync().await;
    assert_eq!(world.app_live("contacts").len(), 1, "and was not repeated");
    world.app_id_of("people", &h).await;
}

#[tokio::test]
async fn an_app_record_created_by_a_run_that_died_is_linked_not_imported_as_a_new_record() {
    let world = World::new();
    let h = world.hub_seed("people", json!({ "first_name": "Nomail" }));
    // The create happens, its answer is lost, and the next pass reads the app first.
    world.fakes.app.commit_then_timeout(AppOp::Write, 1);
    world.sync().await;
    assert_eq!(world.app_live("contacts").len(), 1);
    use sync_core::ports::SyncStore;
    world
        .fakes
        .store
        .purge_sync_state(&world.fakes.org.id)
        .await
        .unwrap();
    world.hub_edit("people", &h, |p| p["job_title"] = json!("x"));
    world.sync().await;
    world.sync().await;
    assert_eq!(world.app_live("contacts").len(), 1, "no second contact");
    assert_eq!(
        world.hub_all("people").len(),
        1,
        "the orphan was not imported into Connec!"
    );
}

#[tokio::test]
async fn a_lost_create_archived_in_the_app_meanwhile_carries_its_archive_not_a_new_record() {
    let world = World::new();
    let h = world.hub_seed("people", json!({ "first_name": "Nomail" }));
    world.fakes.app.commit_then_timeout(AppOp::Write, 1);
    world.sync().await;
    let created = world.app_live("contacts");
    assert_eq!(created.len(), 1, "the create happened, its answer was lost");
    let id = created[0]["id"].as_str().unwrap().to_owned();
    // Archived before any run learnt of it: no search by marker will find it again.
    world.fakes.app.archive_record("contacts", &id);
    world.sync().await;
    world.sync().await;
    assert_eq!(world.app_live("contacts").len(), 0, "not created again");
    assert!(
        inactive(&world.hub_get("people", &h)),
        "the archive travelled"
    );
}

#[tokio::test]
async fn id_maps_are_kept_when_a_later_step_of_the_page_fails() {
    let world = World::new();
    let h = world.hub_seed("people", json!({ "first_name": "Nomail" }));
    // The app create succeeds; the hub write that follows (the id write-back) fails hard.
    world
        .fakes
        .hub
        .fail_next(HubOp::Write, 5, Failure::Status(503));
    world.sync().await;
    world.app_id_of("people", &h).await;
    world.fakes.hub.clear_faults();
    world.sync().await;
    assert_eq!(world.app_live("contacts").len(), 1);
}

// ----------------------------------------------------------------------------- F7

#[tokio::test]
async fn a_record_twice_in_one_notification_keeps_only_its_newest_copy() {
    let world = World::new();
    let h = world.hub_seed("people", person("Ann", "ann@example.com"));
    world.sync().await;
    let c = world.app_id_of("people", &h).await;
    world.hub_edit("people", &h, |p| p["job_title"] = json!("Old"));
    let older = world.hub_get("people", &h);
    world.fakes.clock.advance_secs(1);
    world.hub_edit("people", &h, |p| p["job_title"] = json!("New"));
    let newer = world.hub_get("people", &h);

    world
        .engine
        .apply_hub_records(
            &world.fakes.org.id,
            &EntityName::new("people"),
            vec![newer, older],
        )
        .await
        .expect("applied");
    assert_eq!(prop(&world.app_get("contacts", &c), "jobtitle"), "New");
    assert_eq!(world.fakes.app.all("contacts").len(), 1);
}

#[tokio::test]
async fn a_record_twice_in_one_page_keeps_its_link_and_its_opt_out() {
    let world = World::new();
    let h = world.hub_seed("people", person("Ann", "ann@example.com"));
    world.sync().await;
    let c = world.app_id_of("people", &h).await;
    let mut map = world.map_of_hub("people", &h).await.unwrap();
    map.to_app = false;
    use sync_core::ports::SyncStore;
    world.fakes.store.save_idmaps(&[map]).await.unwrap();
    world.hub_edit("people", &h, |p| p["job_title"] = json!("Hidden"));
    world.fakes.hub.repeat_in_next_page(h.as_str());
    world.sync().await;
    assert_eq!(
        *prop(&world.app_get("contacts", &c), "jobtitle"),
        Value::Null
    );
    assert_eq!(world.fakes.app.all("contacts").len(), 1);
}

// ----------------------------------------------------------------------------- F9, F10

#[tokio::test]
async fn the_lease_is_renewed_before_every_phase_even_of_single_page_runs() {
    use sync_core::testing::StoreOp;
    let world = World::new();
    world.hub_seed("people", person("Ann", "ann@example.com"));
    world.sync().await;
    // Two entities, two phases each, one page each.
    assert!(world.fakes.store.calls(StoreOp::RenewLease) >= 4);
}

#[tokio::test]
async fn a_deadline_stops_before_the_next_entity_and_continuations_converge() {
    let world = World::new();
    for i in 0..3 {
        world.hub_seed("organizations", json!({ "name": format!("Org {i}") }));
        world.hub_seed(
            "people",
            person(&format!("P{i}"), &format!("p{i}@example.com")),
        );
    }
    let past = sync_core::domain::Timestamp::parse("2000-01-01T00:00:00Z").unwrap();
    let mut runs = 0;
    loop {
        runs += 1;
        let run = world
            .sync_with(RunOptions {
                deadline: Some(past),
                ..RunOptions::default()
            })
            .await;
        if !run.needs_continuation {
            break;
        }
        assert!(runs < 20, "continuations move forward");
    }
    assert!(
        runs >= 3,
        "the deadline cut the run between phases ({runs} runs)"
    );
    assert_eq!(world.app_live("companies").len(), 3);
    assert_eq!(world.app_live("contacts").len(), 3);
}

#[tokio::test]
async fn a_failing_parked_pass_does_not_stop_the_main_fetch() {
    let world = World::new();
    let h = world.hub_seed("people", person("Ann", "ann@example.com"));
    let c = world
        .fakes
        .app
        .seed("contacts", contact("Zed", "zed@example.com"));
    world.sync().await;
    world.hub_edit("people", &h, |p| p["job_title"] = json!("x"));
    let ann = world.app_id_of("people", &h).await;
    world.fakes.app.reject(ann.as_str());
    world.sync().await; // parks Ann
    world.fakes.app.accept(ann.as_str());
    let late = world.hub_seed("people", person("Late", "late@example.com"));
    world
        .fakes
        .hub
        .fail_next(HubOp::FetchByIds, 1, Failure::Status(500));
    world.sync().await;
    world.app_id_of("people", &late).await;
    let _ = c;
}

// ----------------------------------------------------------------------------- F11

#[tokio::test]
async fn an_unreadable_app_version_counts_as_changed_never_as_unchanged() {
    let world = World::new();
    let h = world.hub_seed("people", person("Ann", "ann@example.com"));
    world.sync().await;
    let c = world.app_id_of("people", &h).await;
    world.hub_edit("people", &h, |p| p["job_title"] = json!("HubEdit"));
    world.fakes.clock.advance_secs(1);
    // Moved to a company not synced yet, and a newer edit: the app's version wins but cannot
    // be read; it must not be overwritten by the hub's.
    world.fakes.app.edit("contacts", c.as_str(), |r| {
        r["properties"]["company_id"] = json!("999");
        r["properties"]["jobtitle"] = json!("AppEdit");
    });
    let notification = world.hub_get("people", &h);
    world
        .engine
        .apply_hub_records(
            &world.fakes.org.id,
            &EntityName::new("people"),
            vec![notification],
        )
        .await
        .expect("applied");
    assert_eq!(prop(&world.app_get("contacts", &c), "jobtitle"), "AppEdit");
}

// ----------------------------------------------------------------------------- F12

#[tokio::test]
async fn created_records_are_linked_to_their_own_inputs_whatever_the_result_order() {
    let world = World::new();
    world.fakes.app.set_result_order(Order::Reversed);
    let ids: Vec<_> = (0..5)
        .map(|i| world.hub_seed("people", json!({ "first_name": format!("N{i}") })))
        .collect();
    world.sync().await;
    for (i, h) in ids.iter().enumerate() {
        let c = world.app_id_of("people", h).await;
        assert_eq!(
            *prop(&world.app_get("contacts", &c), "firstname"),
            json!(format!("N{i}"))
        );
    }
}

// ----------------------------------------------------------------------------- randomized run

#[tokio::test]
async fn people_of_an_archived_organization_keep_syncing() {
    let world = World::new();
    let org = world.hub_seed("organizations", json!({ "name": "Gone Inc" }));
    let h = world.hub_seed(
        "people",
        json!({ "first_name": "Ann", "email": { "address": "ann@example.com" }, "organization_id": org.as_str() }),
    );
    world.sync().await;
    world.fakes.hub.archive_record(
        sync_core::testing::SAMPLE_GROUP,
        "organizations",
        org.as_str(),
    );
    world.sync().await;
    world.hub_edit("people", &h, |p| p["job_title"] = json!("Still here"));
    let run = world.sync().await;
    assert_eq!(run.status, RunStatus::Success, "nothing parked: {run:?}");
    let c = world.app_id_of("people", &h).await;
    assert_eq!(
        *prop(&world.app_get("contacts", &c), "jobtitle"),
        "Still here"
    );
    // And no echo: a quiet run writes nothing.
    world.fakes.app.reset_counts();
    world.fakes.hub.reset_counts();
    world.sync().await;
    assert_eq!(world.fakes.app.counts().written(), 0);
    assert_eq!(world.fakes.hub.counts().written(), 0);
}

#[tokio::test]
async fn people_of_an_organization_archived_before_it_ever_synced_still_travel() {
    let world = World::new();
    let org = world.hub_seed("organizations", json!({ "name": "Stillborn" }));
    world.fakes.hub.archive_record(
        sync_core::testing::SAMPLE_GROUP,
        "organizations",
        org.as_str(),
    );
    let h = world.hub_seed(
        "people",
        json!({ "first_name": "Ann", "email": { "address": "ann@example.com" }, "organization_id": org.as_str() }),
    );
    world.sync().await;
    let run = world.sync().await;
    assert_eq!(
        run.status,
        RunStatus::Success,
        "nothing waits for ever: {run:?}"
    );
    world.app_id_of("people", &h).await;
    assert_eq!(world.app_live("companies").len(), 0);
}

// ----------------------------------------------------------------------------- write-back

#[tokio::test]
async fn a_hub_record_created_in_the_app_carries_the_app_id_afterwards_without_echo() {
    let world = World::new();
    let h = world.hub_seed("people", person("Ann", "ann@example.com"));
    world.sync().await;
    let c = world.app_id_of("people", &h).await;
    let ids = world.hub_get("people", &h)["id"].clone();
    let carried = ids.as_array().unwrap().iter().any(|e| {
        e["provider"] == sync_core::testing::SAMPLE_PROVIDER && e["id"] == json!(c.as_str())
    });
    assert!(carried, "the app id was written back: {ids}");

    world.fakes.app.reset_counts();
    world.fakes.hub.reset_counts();
    world.sync().await;
    world.sync().await;
    assert_eq!(world.fakes.app.counts().written(), 0, "no echo in the app");
    assert_eq!(world.fakes.hub.counts().written(), 0, "no echo in the hub");
}

#[tokio::test]
async fn a_lost_id_map_is_rebuilt_from_the_hubs_external_ids_without_duplicates() {
    let world = World::new();
    for i in 0..3 {
        world.hub_seed("people", json!({ "first_name": format!("N{i}") }));
    }
    world.sync().await;
    use sync_core::ports::SyncStore;
    world
        .fakes
        .store
        .purge_sync_state(&world.fakes.org.id)
        .await
        .unwrap();
    world.sync().await;
    assert_eq!(world.app_live("contacts").len(), 3);
    assert_eq!(world.hub_all("people").len(), 3);
}

// ----------------------------------------------------------------------------- opt-outs

#[tokio::test]
async fn a_per_record_opt_out_holds() {
    let world = World::new();
    let h = world.hub_seed("people", person("Ann", "ann@example.com"));
    world.sync().await;
    let c = world.app_id_of("people", &h).await;
    let mut map = world.map_of_hub("people", &h).await.unwrap();
    map.to_app = false;
    use sync_core::ports::SyncStore;
    world.fakes.store.save_idmaps(&[map]).await.unwrap();
    world.hub_edit("people", &h, |p| p["job_title"] = json!("Hidden"));
    let run = world.sync().await;
    assert_eq!(
        *prop(&world.app_get("contacts", &c), "jobtitle"),
        Value::Null
    );
    assert!(run.counts_for("people", Direction::ToApp).skipped >= 1);
}
