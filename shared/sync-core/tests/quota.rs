//! A used-up call quota (Xero's daily limit) ends the run as partial where it stands; the next
//! run resumes from the page checkpoint. Nothing fails, nothing is re-read, nothing spins.

mod support;

use serde_json::json;
use support::World;
use sync_core::domain::{Direction, RunStatus};
use sync_core::testing::{AppOp, Failure};

#[tokio::test]
async fn the_daily_limit_ends_the_run_as_partial_and_the_next_run_resumes_from_its_checkpoint() {
    let world = World::new();
    let app = &world.fakes.app;
    app.set_page_size(2);
    for n in 0..5 {
        app.seed(
            "contacts",
            json!({ "firstname": format!("P{n}"), "lastname": "Doe", "email": format!("p{n}@x.test") }),
        );
    }
    // The quota runs out once the second page of contacts is served.
    app.before_page("contacts", 1, |app| {
        app.fail_next(AppOp::FetchPage, 1, Failure::QuotaExhausted)
    });

    let run = world.sync().await;

    assert_eq!(run.status, RunStatus::Partial, "{run:?}");
    assert!(run.quota_exhausted && !run.needs_continuation, "{run:?}");
    assert!(run.errors.is_empty(), "not a failure: {:?}", run.errors);
    assert_eq!(run.counts_for("people", Direction::ToHub).created, 4);
    assert_eq!(world.hub_all("people").len(), 4);
    let calls = app.calls(AppOp::FetchPage);

    let next = world.sync().await;

    assert_eq!(next.status, RunStatus::Success, "{next:?}");
    assert!(!next.quota_exhausted);
    let people = next.counts_for("people", Direction::ToHub);
    assert_eq!(
        (people.created, people.skipped),
        (1, 0),
        "resumed at the third page, nothing read twice: {next:?}"
    );
    assert_eq!(world.hub_all("people").len(), 5);
    assert!(app.calls(AppOp::FetchPage) > calls);
}
