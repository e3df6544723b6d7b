//! The shared scenarios, run on every app under test: HubSpot and Xero on their emulators (over
//! HTTP) and the in-memory fake app with HubSpot's mappings (a second connector implementation on the
//! same seam). A scenario here uses only the world's hub helpers and its app helpers in
//! Connec!'s shape (`app_seed_as`, `app_update_as`, `app_as_hub`: through the pair's mapping),
//! and only fields every app maps (names, e-mails), so a new connector runs it by adding its
//! `AppUnderTest` to `on_every_app!`.

use serde_json::{Value, json};
use sync_core::domain::{Direction, RunStatus};
use tests::{World, counts};

/// One `#[tokio::test]` per app under test for each scenario `fn(World)`.
macro_rules! on_every_app {
    ($($scenario:ident),* $(,)?) => {
        mod hubspot {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario(tests::World::start().await).await;
                }
            )*
        }
        mod xero {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario(tests::World::on_xero().await).await;
                }
            )*
        }
        mod fake_app {
            $(
                #[tokio::test]
                async fn $scenario() {
                    let app: std::sync::Arc<dyn tests::AppUnderTest> =
                        std::sync::Arc::new(tests::FakeAppUnderTest::default());
                    super::$scenario(
                        tests::World::with_app(app, tests::WorldOptions::default()).await,
                    )
                    .await;
                }
            )*
        }
    };
}

on_every_app!(
    first_sync_merges_records_present_on_both_sides,
    an_immediate_second_sync_writes_nothing,
    incremental_sync_moves_only_the_changes,
);

fn email_of(person: &Value) -> Option<&str> {
    person.pointer("/email/address").and_then(Value::as_str)
}

fn person<'a>(people: &'a [Value], email: &str) -> &'a Value {
    people
        .iter()
        .find(|p| email_of(p) == Some(email))
        .unwrap_or_else(|| panic!("{email} in {people:#?}"))
}

async fn first_sync_merges_records_present_on_both_sides(world: World) {
    let acme = world.hub_seed("organizations", json!({ "name": "Acme" }));
    world.hub_seed("organizations", json!({ "name": "Hub Only Ltd" }));
    world.hub_seed(
        "people",
        json!({ "first_name": "Ann", "email": { "address": "ann@acme.example" }, "organization_id": acme.as_str() }),
    );
    world.hub_seed(
        "people",
        json!({ "first_name": "Hal", "last_name": "Hub", "email": { "address": "hal@hub.example" } }),
    );
    let acme_app = world.app_seed_as("organizations", json!({ "name": "Acme" }));
    world.app_seed_as("organizations", json!({ "name": "App Only Inc" }));
    // The same Ann on both sides, of the same Acme.
    world.app_seed_as(
        "people",
        json!({ "first_name": "Ann", "last_name": "Lee", "email": { "address": "ann@acme.example" }, "organization_id": acme_app }),
    );
    world.app_seed_as(
        "people",
        json!({ "first_name": "Apu", "last_name": "App", "email": { "address": "apu@app.example" } }),
    );

    let run = world.sync().await;
    assert_eq!(run.status, RunStatus::Success, "{:?}", run.errors);
    assert_eq!(world.hub("people").len(), 3);
    assert_eq!(world.app_as_hub("people").len(), 3);
    assert_eq!(world.hub("organizations").len(), 3);
    assert_eq!(world.app_as_hub("organizations").len(), 3);
    assert_eq!(counts(&run, "people", Direction::ToHub).merged, 1);
    assert_eq!(counts(&run, "organizations", Direction::ToHub).merged, 1);
    // Merged, not duplicated: Connec!'s Ann took the app's last name.
    let ann = person(&world.hub("people"), "ann@acme.example").clone();
    assert_eq!(ann["last_name"], json!("Lee"));
    world.assert_agree().await;
}

async fn an_immediate_second_sync_writes_nothing(world: World) {
    let org = world.hub_seed("organizations", json!({ "name": "Acme" }));
    world.hub_seed("people", json!({ "first_name": "Ann", "last_name": "Lee", "email": { "address": "Ann@Acme.example" }, "organization_id": org.as_str() }));
    world.app_seed_as(
        "people",
        json!({ "first_name": "Bo", "last_name": "Bay", "email": { "address": "bo@app.example" } }),
    );
    assert_eq!(world.sync().await.status, RunStatus::Success);
    let second = world.sync().await;
    assert_eq!(second.status, RunStatus::Success);
    assert_eq!(second.totals().written(), 0, "echo: {:?}", second.counts);
    world.assert_agree().await;
}

async fn incremental_sync_moves_only_the_changes(world: World) {
    let ids: Vec<_> = (0..5)
        .map(|i| world.hub_seed("people", json!({ "first_name": format!("P{i}"), "last_name": "Doe", "email": { "address": format!("p{i}@x.example") } })))
        .collect();
    let zed = world.app_seed_as(
        "people",
        json!({ "first_name": "Zed", "last_name": "Zero", "email": { "address": "zed@x.example" } }),
    );
    world.sync().await;
    // Edits strictly after the first run (timestamps have millisecond precision).
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    world.hub_update("people", &ids[2], json!({ "last_name": "Chief" }));
    world.app_update_as("people", &zed, json!({ "last_name": "Zulu" }));
    let run = world.sync().await;

    let to_app = counts(&run, "people", Direction::ToApp);
    let to_hub = counts(&run, "people", Direction::ToHub);
    assert_eq!((to_app.updated, to_app.created), (1, 0), "{:?}", run.counts);
    assert_eq!((to_hub.updated, to_hub.created), (1, 0), "{:?}", run.counts);
    let p2 = person(&world.app_as_hub("people"), "p2@x.example").clone();
    assert_eq!(p2["last_name"], json!("Chief"));
    let zed = person(&world.hub("people"), "zed@x.example").clone();
    assert_eq!(zed["last_name"], json!("Zulu"));
    world.assert_agree().await;
}
