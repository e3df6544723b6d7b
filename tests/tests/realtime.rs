//! End-to-end real time: `connector serve`'s runtime on loopback, linked to the HubSpot emulator
//! through OAuth, receiving HubSpot webhooks and Connec! notifications.

use emulators::{ConnecEmulator, HubSpotEmulator};
use tests::served::{CLIENT_SECRET, Served, client, serve};

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use linking::AccountKey;
use serde_json::{Value, json};
use sync_core::domain::{OrgId, Provider};

const GROUP: &str = "cld-rt";

/// Log lines of this test binary, to search for secrets.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() -> Captured {
    let captured = Captured::default();
    let writer = captured.clone();
    let _ = tracing_subscriber::fmt()
        .with_env_filter("debug")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .try_init();
    captured
}

/// Waits until `check` holds, flushing both emulators' outgoing webhooks meanwhile.
async fn eventually(served: &Served, what: &str, check: impl Fn() -> bool) {
    for _ in 0..200 {
        served.hubspot.flush_webhooks().await;
        served.connec.flush_notifications().await;
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting until {what}");
}

/// Waits until neither emulator's write counters move any more.
async fn settle(served: &Served) -> (u64, u64) {
    let mut last = (u64::MAX, u64::MAX);
    let mut stable = 0;
    for _ in 0..200 {
        served.hubspot.flush_webhooks().await;
        served.connec.flush_notifications().await;
        tokio::time::sleep(Duration::from_millis(30)).await;
        let now = (served.connec.stats().writes, served.hubspot.stats().writes);
        if now == last {
            stable += 1;
            if stable >= 5 {
                return now;
            }
        } else {
            stable = 0;
            last = now;
        }
    }
    panic!("the emulators never went quiet: an echo loop?");
}

fn contact_by_email(hubspot: &HubSpotEmulator, email: &str) -> Option<Value> {
    hubspot
        .objects("contacts")
        .into_iter()
        .find(|c| c.pointer("/properties/email").and_then(Value::as_str) == Some(email))
}

fn person_by_email(connec: &ConnecEmulator, email: &str) -> Option<Value> {
    connec
        .records(GROUP, "people")
        .into_iter()
        .find(|p| p.pointer("/email/address").and_then(Value::as_str) == Some(email))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_then_changes_travel_by_webhook_both_ways_without_echo_or_leaked_secrets() {
    let logs = capture_logs();
    let served = serve().await;
    let callback = served.link_group(GROUP).await;

    // The callback cannot be replayed (here from a client without the browser's cookies), and
    // a made-up state is refused.
    let http = client();
    let replay = http.get(&callback).send().await.unwrap();
    assert_eq!(replay.status(), 400);
    assert!(replay.text().await.unwrap().contains("another browser"));
    let forged = http
        .get(format!(
            "{}/oauth/hubspot/callback?code=x&state=made-up",
            served.public_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);

    // Tokens are stored, encrypted: not readable in the database file.
    let org = served
        .runtime
        .store()
        .get_organization(&OrgId::new(GROUP))
        .await
        .unwrap()
        .expect("organization created");
    let key = AccountKey::new(Provider::new("hubspot"), org.realm.to_string());
    let stored = served
        .runtime
        .credentials()
        .load(&key)
        .await
        .unwrap()
        .expect("tokens stored");
    let raw = std::fs::read(&served.database).unwrap();
    let wal = std::fs::read(served.database.with_extension("db-wal")).unwrap_or_default();
    for secret in [
        stored.tokens.access_token.expose(),
        stored.tokens.refresh_token.as_ref().unwrap().expose(),
    ] {
        let needle = secret.as_bytes();
        assert!(
            !raw.windows(needle.len()).any(|w| w == needle),
            "a token is readable in the database"
        );
        assert!(
            !wal.windows(needle.len()).any(|w| w == needle),
            "a token is readable in the WAL"
        );
    }

    // The first sync runs on its own (requested by the link).
    let store = served.runtime.store().clone();
    first_run_finished(&served, GROUP).await;
    assert_eq!(store.recent_runs(&org.id, 5).await.unwrap().len(), 1);
    let (connec_writes, hubspot_writes) = settle(&served).await;

    // HubSpot -> Connec!, by webhook only.
    let created = served.hubspot.seed(
        "contacts",
        json!({ "firstname": "Web", "lastname": "Hook", "email": "web@hook.example" }),
    );
    eventually(&served, "the HubSpot contact reaches Connec!", || {
        person_by_email(&served.connec, "web@hook.example").is_some()
    })
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    served
        .hubspot
        .update("contacts", &id, json!({ "jobtitle": "Hooked" }));
    eventually(&served, "the HubSpot change reaches Connec!", || {
        person_by_email(&served.connec, "web@hook.example")
            .is_some_and(|p| p["job_title"] == json!("Hooked"))
    })
    .await;
    let (connec_after, hubspot_after) = settle(&served).await;
    assert_eq!(
        connec_after - connec_writes,
        2,
        "one create and one update in Connec!"
    );
    assert_eq!(
        hubspot_after, hubspot_writes,
        "nothing echoed back to HubSpot"
    );

    // Connec! -> HubSpot, by notification only.
    let person = person_by_email(&served.connec, "web@hook.example").unwrap();
    let hub_id = connec::record::hub_id(&person).unwrap();
    served.connec.update(
        GROUP,
        "people",
        hub_id.as_str(),
        json!({ "last_name": "Notified" }),
    );
    eventually(&served, "the Connec! change reaches HubSpot", || {
        contact_by_email(&served.hubspot, "web@hook.example")
            .is_some_and(|c| c.pointer("/properties/lastname") == Some(&json!("Notified")))
    })
    .await;
    let (connec_final, hubspot_final) = settle(&served).await;
    assert_eq!(hubspot_final - hubspot_after, 1, "one update in HubSpot");
    assert_eq!(connec_final, connec_after, "nothing echoed back to Connec!");
    assert_eq!(
        store.recent_runs(&org.id, 5).await.unwrap().len(),
        1,
        "no scheduled sync ran"
    );

    // Duplicated deliveries are queued once: the contact is read once, not once per copy
    // (without the dedupe the second copy would be fetched and found unchanged).
    let reads = || -> u64 {
        served
            .hubspot
            .stats()
            .by_route
            .iter()
            .filter(|(route, _)| route.ends_with("/batch/read"))
            .map(|(_, n)| n)
            .sum()
    };
    let reads_before = reads();
    served.hubspot.duplicate_deliveries(true);
    served
        .hubspot
        .update("contacts", &id, json!({ "jobtitle": "Twice" }));
    eventually(&served, "the duplicated change arrives", || {
        person_by_email(&served.connec, "web@hook.example")
            .is_some_and(|p| p["job_title"] == json!("Twice"))
    })
    .await;
    let (connec_dup, _) = settle(&served).await;
    assert_eq!(connec_dup - connec_final, 1, "one write in Connec!");
    assert_eq!(
        reads() - reads_before,
        1,
        "a duplicate delivery is processed once"
    );

    // Events out of order (the newest first) end in the newest state: records are re-read.
    served.hubspot.duplicate_deliveries(false);
    served.hubspot.pause_webhooks(true);
    served
        .hubspot
        .update("contacts", &id, json!({ "jobtitle": "older" }));
    served
        .hubspot
        .update("contacts", &id, json!({ "jobtitle": "newest" }));
    let now = chrono::Utc::now().timestamp_millis();
    let event = |event_id: u64, occurred: i64, value: &str| {
        json!({ "eventId": event_id, "subscriptionId": 1, "portalId": org.realm.as_str().parse::<u64>().unwrap(),
                "appId": 4242, "occurredAt": occurred, "subscriptionType": "contact.propertyChange",
                "attemptNumber": 0, "objectId": id.parse::<u64>().unwrap(), "propertyName": "jobtitle",
                "propertyValue": value, "changeSource": "CRM_UI" })
    };
    for batch in [
        json!([event(900_002, now, "newest")]),
        json!([event(900_001, now - 1000, "older")]),
    ] {
        let body = batch.to_string();
        let uri = format!("{}/webhooks/hubspot", served.public_url);
        let signature = hubspot::webhooks::hubspot_v3_signature(
            CLIENT_SECRET,
            "POST",
            &uri,
            body.as_bytes(),
            now,
        );
        let answer = http
            .post(&uri)
            .header("X-HubSpot-Signature-v3", signature)
            .header("X-HubSpot-Request-Timestamp", now.to_string())
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
    }
    eventually(&served, "the newest state wins", || {
        person_by_email(&served.connec, "web@hook.example")
            .is_some_and(|p| p["job_title"] == json!("newest"))
    })
    .await;
    served.hubspot.pause_webhooks(false);
    settle(&served).await;
    assert_eq!(
        person_by_email(&served.connec, "web@hook.example").unwrap()["job_title"],
        json!("newest")
    );

    // Connec! notifications carry record bodies: two versions of one person in one
    // notification, the newest first, end in the newest state (the older copy is stale).
    served.connec.pause_notifications(true);
    for last_name in ["Older", "Newest"] {
        served.connec.update(
            GROUP,
            "people",
            hub_id.as_str(),
            json!({ "last_name": last_name }),
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    served
        .connec
        .set_notification_order(emulators::connec::NotificationOrder::NewestFirst);
    served.connec.pause_notifications(false);
    eventually(
        &served,
        "the newest Connec! version reaches HubSpot",
        || {
            contact_by_email(&served.hubspot, "web@hook.example")
                .is_some_and(|c| c.pointer("/properties/lastname") == Some(&json!("Newest")))
        },
    )
    .await;
    settle(&served).await;
    assert_eq!(
        contact_by_email(&served.hubspot, "web@hook.example").unwrap()["properties"]["lastname"],
        json!("Newest"),
        "an older version delivered after a newer one never overwrites it"
    );
    served
        .connec
        .set_notification_order(emulators::connec::NotificationOrder::CommitOrder);

    // A refresh token HubSpot no longer accepts: the link needs re-authorisation.
    served.hubspot.revoke_refresh_tokens();
    served.hubspot.expire_access_tokens();
    served
        .runtime
        .process(sync_core::ports::WorkItem::Sync {
            org: org.id.clone(),
        })
        .await;
    let stored = served
        .runtime
        .credentials()
        .load(&key)
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(
            stored.status,
            linking::ports::LinkStatus::NeedsReauthorization { .. }
        ),
        "{:?}",
        stored.status
    );

    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(text.contains("account linked"), "logs were captured");
    for secret in [
        CLIENT_SECRET,
        "demo-key",
        stored.tokens.access_token.expose(),
        stored.tokens.refresh_token.as_ref().unwrap().expose(),
        "web@hook.example",
    ] {
        assert!(
            !text.contains(secret),
            "a secret or personal data reached the logs"
        );
    }
}

/// Waits until the organization's first run has finished.
async fn first_run_finished(served: &Served, group: &str) {
    let store = served.runtime.store().clone();
    for _ in 0..200 {
        if store
            .recent_runs(&OrgId::new(group), 5)
            .await
            .unwrap()
            .iter()
            .any(|r| r.finished_at.is_some())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the first sync of {group} never finished");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_notification_for_two_groups_reaches_each_groups_own_hubspot_account() {
    const OTHER_GROUP: &str = "cld-rt-other";
    const OTHER_PORTAL: u64 = 777;
    let served = serve().await;
    let default_portal = served.hubspot.config().portal_id;
    served.link_group(GROUP).await;
    // The second group is linked to another HubSpot account (chosen on HubSpot's consent).
    served.hubspot.consent_as_portal(OTHER_PORTAL);
    served.link_group(OTHER_GROUP).await;
    let store = served.runtime.store().clone();
    let mut realms = Vec::new();
    for group in [GROUP, OTHER_GROUP] {
        let org = store.get_organization(&OrgId::new(group)).await.unwrap();
        realms.push(org.expect("linked").realm.to_string());
    }
    assert_eq!(
        realms,
        [default_portal.to_string(), OTHER_PORTAL.to_string()]
    );
    first_run_finished(&served, GROUP).await;
    first_run_finished(&served, OTHER_GROUP).await;
    settle(&served).await;
    let sent_before = served.connec.notifications_sent().len();

    // Two groups change while notifications are held: one body carries both.
    served.connec.pause_notifications(true);
    served.connec.seed(
        GROUP,
        "people",
        json!({ "first_name": "Ann", "email": { "address": "ann@one.example" } }),
    );
    served.connec.seed(
        OTHER_GROUP,
        "people",
        json!({ "first_name": "Bob", "email": { "address": "bob@two.example" } }),
    );
    served.connec.pause_notifications(false);
    let email_in = |portal: u64, email: &str| {
        served
            .hubspot
            .objects_in(portal, "contacts")
            .iter()
            .any(|c| c.pointer("/properties/email").and_then(Value::as_str) == Some(email))
    };
    eventually(&served, "each person reaches its own account", || {
        email_in(default_portal, "ann@one.example") && email_in(OTHER_PORTAL, "bob@two.example")
    })
    .await;
    settle(&served).await;
    let sent: Vec<_> = served.connec.notifications_sent()[sent_before..].to_vec();
    assert!(
        sent.iter().any(|n| n.records == 2),
        "one notification carried both groups: {sent:?}"
    );
    assert!(!email_in(OTHER_PORTAL, "ann@one.example"), "no cross-talk");
    assert!(
        !email_in(default_portal, "bob@two.example"),
        "no cross-talk"
    );
    // Each account's new contact is mapped in its own organization only.
    for (group, portal, email) in [
        (GROUP, default_portal, "ann@one.example"),
        (OTHER_GROUP, OTHER_PORTAL, "bob@two.example"),
    ] {
        let contact = served
            .hubspot
            .objects_in(portal, "contacts")
            .into_iter()
            .find(|c| c.pointer("/properties/email").and_then(Value::as_str) == Some(email))
            .unwrap();
        let maps = store
            .list_idmaps(&OrgId::new(group), None, 0, 100)
            .await
            .unwrap();
        assert!(
            maps.iter()
                .any(|m| m.app_id.as_ref().map(|a| a.as_str()) == contact["id"].as_str()),
            "{group} maps {email}'s contact"
        );
    }

    // And back: a webhook from the second account (its portalId) lands in its own group.
    served.hubspot.seed_in(
        OTHER_PORTAL,
        "contacts",
        json!({ "firstname": "Cy", "email": "cy@two.example" }),
    );
    let person_in = |group: &str, email: &str| {
        served
            .connec
            .records(group, "people")
            .iter()
            .any(|p| p.pointer("/email/address").and_then(Value::as_str) == Some(email))
    };
    eventually(
        &served,
        "the second account's contact reaches its group",
        || person_in(OTHER_GROUP, "cy@two.example"),
    )
    .await;
    settle(&served).await;
    assert!(!person_in(GROUP, "cy@two.example"), "no cross-talk");
}
