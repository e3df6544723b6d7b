//! The connector's page in a real browser (headless Debian Chromium over WebDriver), against
//! `connector serve`'s runtime and both emulators on loopback: a forged and an expired launch
//! are refused; a valid launch links HubSpot through its consent step, an entity is switched,
//! "sync now" is watched to its end, a failed record is opened and retried, records are found,
//! the account is unlinked; a second group's session cannot see or touch the first group.
//!
//! Screenshots go to a temporary folder, or to `SCREENSHOTS_DIR` when set:
//! `SCREENSHOTS_DIR=docs/screens cargo test -p tests --test console_browser` refreshes the
//! README's.

use std::path::PathBuf;
use std::time::Duration;

use emulators::RecordFault;
use serde_json::json;
use sync_core::domain::{EntityName, OrgId};
use tests::browser::{Browser, DESKTOP, PHONE};
use tests::served::{Served, serve};

const GROUP: &str = "cld-browser";
const OTHER_GROUP: &str = "cld-neighbour";

struct Shots {
    dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl Shots {
    fn new() -> Self {
        match std::env::var_os("SCREENSHOTS_DIR") {
            Some(dir) => {
                let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("..")
                    .join(dir);
                std::fs::create_dir_all(&dir).unwrap();
                Self { dir, _temp: None }
            }
            None => {
                let temp = tempfile::tempdir().unwrap();
                Self {
                    dir: temp.path().to_owned(),
                    _temp: Some(temp),
                }
            }
        }
    }

    async fn take(&self, browser: &Browser, name: &str) {
        let path = browser
            .screenshot(self.dir.join(format!("{name}.png")))
            .await
            .unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{name} is a PNG");
    }
}

/// Runs of `group`'s organization that have finished.
async fn finished_runs(served: &Served, group: &str) -> usize {
    let store = served.runtime.store().clone();
    let Some(org) = store
        .list_organizations()
        .await
        .unwrap()
        .into_iter()
        .find(|o| o.group_id.as_str() == group)
    else {
        return 0;
    };
    store
        .recent_runs(&org.id, 20)
        .await
        .unwrap()
        .iter()
        .filter(|r| r.finished_at.is_some())
        .count()
}

async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..400 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_links_switches_syncs_retries_searches_and_unlinks_in_a_browser() {
    let served = serve().await;
    let shots = Shots::new();
    let browser = Browser::start().await.expect("the browser starts");
    browser.set_window(DESKTOP).await.unwrap();
    let base = served.public_url.clone();

    // A forged and an expired launch token are refused, and open no session.
    let valid = served.launch_url(GROUP, Duration::from_secs(300));
    let forged = format!("{}AAAA", &valid[..valid.len() - 4]);
    browser.goto(&forged).await.unwrap();
    browser.wait_for_text("h1", "Sign-in needed").await.unwrap();
    let text = browser.text_of("main").await.unwrap();
    assert!(text.contains("not valid"), "{text}");
    shots.take(&browser, "launch-refused").await;
    browser
        .goto(&served.launch_token_url(GROUP, 900, 300))
        .await
        .unwrap();
    browser.wait_for_text("main", "expired").await.unwrap();
    browser.goto(&format!("{base}/connector")).await.unwrap();
    browser.wait_for_text("h1", "Sign-in needed").await.unwrap();

    // A valid launch: the group's page, nothing linked yet.
    browser.goto(&valid).await.unwrap();
    browser
        .wait_for_text("h1", "Apps linked to this group")
        .await
        .unwrap();
    browser
        .wait_for_text("#app-hubspot", "Not linked yet.")
        .await
        .unwrap();
    let cookies = browser.cookies().await.unwrap();
    let session = cookies
        .iter()
        .find(|c| c.name() == "connector_session")
        .expect("a session");
    assert_eq!(session.http_only(), Some(true));
    shots.take(&browser, "home-not-linked").await;

    // Link: the confirmation names the group and the app; HubSpot's consent; back to the page.
    browser.click("#app-hubspot a.button").await.unwrap();
    browser.wait_for_text("h1", "Link HubSpot").await.unwrap();
    let text = browser.text_of("main").await.unwrap();
    assert!(text.contains(GROUP) && text.contains("HubSpot"), "{text}");
    shots.take(&browser, "link-confirm").await;
    browser
        .click("main form button[type=submit]")
        .await
        .unwrap();
    browser.wait_for_text("h1", "Linked").await.unwrap();
    until("the first sync has finished", async || {
        finished_runs(&served, GROUP).await >= 1
    })
    .await;
    browser.click("main a.button").await.unwrap();
    browser
        .wait_for_text("#app-hubspot", "Linked to account")
        .await
        .unwrap();

    // Switch organizations off towards HubSpot (the checkbox submits its form).
    browser
        .click("form[action='/connector/apps/hubspot/entities/organizations'] input[name=to_app]")
        .await
        .unwrap();
    browser.wait_for_text(".notice", "Saved.").await.unwrap();
    let store = served.runtime.store().clone();
    let org_id = OrgId::new(GROUP);
    let org = store.get_organization(&org_id).await.unwrap().unwrap();
    let flags = org.flags(&EntityName::new("organizations"));
    assert!(flags.to_hub && !flags.to_app, "{flags:?}");

    // Two new people in Connec!; HubSpot refuses the second until told otherwise. Sync now,
    // watched to its end.
    served.connec.seed(GROUP, "people", json!({ "first_name": "Grace", "last_name": "Good", "email": { "address": "grace@x.example" } }));
    served.connec.seed(GROUP, "people", json!({ "first_name": "Bob", "last_name": "Broken", "email": { "address": "bob@x.example" } }));
    served.hubspot.fail_record(RecordFault {
        field: "email".into(),
        value: json!("bob@x.example"),
        times: None,
    });
    browser
        .click("form[action='/connector/apps/hubspot/sync'] button")
        .await
        .unwrap();
    browser
        .wait_for_text("#app-hubspot .run-status", "partial")
        .await
        .unwrap();
    shots.take(&browser, "home-linked").await;
    let emails = |served: &Served| -> Vec<String> {
        served
            .hubspot
            .objects("contacts")
            .iter()
            .filter_map(|c| c["properties"]["email"].as_str().map(str::to_owned))
            .collect()
    };
    assert_eq!(emails(&served), ["grace@x.example"]);

    // The failed record, with HubSpot's error; retried, it goes through.
    browser
        .click("#app-hubspot a[href='/connector/apps/hubspot/failures']")
        .await
        .unwrap();
    browser
        .wait_for_text("h1", "records that did not travel")
        .await
        .unwrap();
    let row = browser.text_of("tr.failure").await.unwrap();
    assert!(row.contains("Bob") && row.contains("failed"), "{row}");
    shots.take(&browser, "problems").await;
    browser.set_window(PHONE).await.unwrap();
    shots.take(&browser, "problems-phone").await;
    browser.set_window(DESKTOP).await.unwrap();
    let rows = browser
        .client()
        .find_all(fantoccini::Locator::Css("tr.failure"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "a failed record is listed once");
    served.hubspot.clear_faults();
    browser.click("tr.failure button").await.unwrap();
    browser
        .wait_for_text(".notice", "the record went through")
        .await
        .unwrap();
    let mut sorted = emails(&served);
    sorted.sort();
    assert_eq!(sorted, ["bob@x.example", "grace@x.example"]);

    // History, and a search by name.
    browser
        .goto(&format!("{base}/connector/apps/hubspot/runs"))
        .await
        .unwrap();
    browser.wait_for_text("h1", "sync history").await.unwrap();
    shots.take(&browser, "history").await;
    browser.goto(&format!("{base}/connector")).await.unwrap();
    browser
        .fill("#app-hubspot input[name=q]", "grace")
        .await
        .unwrap();
    browser.submit("#app-hubspot form.search").await.unwrap();
    browser.wait_for_text("h1", "find a record").await.unwrap();
    let found = browser.text_of("tr.idmap").await.unwrap();
    assert!(found.contains("Grace"), "{found}");
    shots.take(&browser, "search").await;

    // A phone-width window: the same page, readable.
    browser.set_window(PHONE).await.unwrap();
    browser.goto(&format!("{base}/connector")).await.unwrap();
    browser
        .wait_for_text("#app-hubspot", "Linked to account")
        .await
        .unwrap();
    shots.take(&browser, "home-phone").await;
    browser.set_window(DESKTOP).await.unwrap();

    // A neighbour's session sees its own group only, and cannot touch ours.
    let neighbour = Browser::start().await.expect("a second browser");
    neighbour
        .goto(&served.launch_url(OTHER_GROUP, Duration::from_secs(300)))
        .await
        .unwrap();
    neighbour
        .wait_for_text("#app-hubspot", "Not linked yet.")
        .await
        .unwrap();
    let header = neighbour.text_of("header").await.unwrap();
    assert!(
        header.contains(OTHER_GROUP) && !header.contains(GROUP),
        "{header}"
    );
    let status = neighbour
        .client()
        .execute(
            &format!(
                "const csrf = document.querySelector('meta[name=csrf-token]').content;\
                 return Promise.all([\
                   fetch('/api/v1/groups/{GROUP}').then(r => r.status),\
                   fetch('/api/v1/groups/{GROUP}/apps/hubspot/unlink', {{ method: 'POST', headers: {{ 'x-csrf-token': csrf }} }}).then(r => r.status)\
                 ]);"
            ),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(status, json!([403, 403]));
    neighbour.close().await.unwrap();
    assert!(
        store
            .get_organization(&org_id)
            .await
            .unwrap()
            .unwrap()
            .sync_enabled
    );

    // Unlink, after its confirmation.
    browser
        .goto(&format!("{base}/connector/apps/hubspot/unlink"))
        .await
        .unwrap();
    browser.wait_for_text("h1", "Unlink HubSpot").await.unwrap();
    shots.take(&browser, "unlink-confirm").await;
    browser.click("input[name=confirm]").await.unwrap();
    browser.click("button.danger").await.unwrap();
    browser
        .wait_for_text("#app-hubspot", "Unlinked from account")
        .await
        .unwrap();
    assert!(
        !store
            .get_organization(&org_id)
            .await
            .unwrap()
            .unwrap()
            .sync_enabled
    );
    browser.close().await.unwrap();
}
