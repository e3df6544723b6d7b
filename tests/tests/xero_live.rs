//! Xero's real-time and linking paths end to end, over real HTTP: `connector serve`'s runtime
//! on loopback with Xero as an OAuth app on its emulator, a group linked as a browser links it,
//! Xero's intent-to-receive check, signed id-only webhooks whose records are fetched, and
//! rotation-safe token refreshes by two processes sharing one credential store.

use std::sync::Arc;
use std::time::Duration;

use emulators::TenantConfig;
use linking::ports::LinkStatus;
use linking::{
    AccountKey, CredentialStore, DEFAULT_MARGIN, SecretString, StoredCredentials, TokenError,
    TokenManager,
};
use serde_json::{Value, json};
use store_embedded::secrets::EncryptedCredentialStore;
use sync_core::domain::{OrgId, RunStatus, Timestamp};
use tests::served::{
    CapturedLogs, Served, TokenRecorder, XERO_CLIENT_ID, XERO_CLIENT_SECRET, XERO_WEBHOOK_KEY,
    client, serve_xero, xero_settings,
};

const GROUP: &str = "cld-xero-live";
/// The default tenant (the one consented to unless a test says otherwise).
const TENANT: &str = emulators::xero::DEMO_TENANT_ID;
const SECOND_TENANT: &str = "33333333-3333-4333-8333-333333333333";

/// Waits until the group's first run (the one the link requests) has finished.
async fn first_run_finished(served: &Served) {
    served.run_finished_after(GROUP, None).await;
}

/// Links the group as a browser does; the account it linked.
async fn link(served: &Served) -> AccountKey {
    served.link_group(GROUP).await;
    served.account_of(GROUP).await
}

/// The group's Connec! record of `collection` whose `field` (a JSON pointer) is `value`.
fn hub_named(served: &Served, collection: &str, field: &str, value: &str) -> Option<Value> {
    served
        .connec
        .records(GROUP, collection)
        .into_iter()
        .find(|r| r.pointer(field).and_then(Value::as_str) == Some(value))
}

/// What the served runtime stores for `key` (`None`: nothing).
async fn stored_for(served: &Served, key: &AccountKey) -> Option<StoredCredentials> {
    served.runtime.credentials().load(key).await.unwrap()
}

/// How many runs the group has had (up to 10).
async fn run_count(served: &Served) -> usize {
    let store = served.runtime.store();
    store
        .recent_runs(&OrgId::new(GROUP), 10)
        .await
        .unwrap()
        .len()
}

/// Points Xero's webhooks at the served connector (`true`) or nowhere (no events are kept).
fn hooks(served: &Served, on: bool) {
    let target = on.then(|| served.xero_webhook_target());
    served.xero.set_webhook_target(target);
}

/// `GET /api.xro/2.0/Contacts` of `tenant` with `token`: its status.
async fn contacts_status(served: &Served, token: &SecretString, tenant: &str) -> u16 {
    client()
        .get(format!("{}/api.xro/2.0/Contacts", served.xero_url))
        .bearer_auth(token.expose())
        .header("xero-tenant-id", tenant)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// `POST /connect/{endpoint}` of Xero's identity service as the Xero app: its status.
async fn identity_call(served: &Served, endpoint: &str, pairs: &[(&str, &str)]) -> u16 {
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let answer = client()
        .post(format!("{}/connect/{endpoint}", served.xero_url))
        .basic_auth(XERO_CLIENT_ID, Some(XERO_CLIENT_SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    answer.status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linking_xero_like_a_browser_picks_the_consented_tenant_stores_tokens_and_syncs() {
    let served = serve_xero().await;
    // Two organisations; the person picks the second on Xero's consent page.
    served
        .xero
        .add_tenant(TenantConfig::new(SECOND_TENANT, "Second Org"));
    served.xero.consent_as_tenant(SECOND_TENANT);
    served.xero.seed_in(
        SECOND_TENANT,
        "Contacts",
        json!({ "Name": "Kiwi Traders", "EmailAddress": "hello@kiwi.example" }),
    );
    served
        .xero
        .seed_in(TENANT, "Contacts", json!({ "Name": "Not Consented Ltd" }));

    let key = link(&served).await;
    assert_eq!(
        key.account, SECOND_TENANT,
        "the realm is the consented tenant"
    );
    let stored = stored_for(&served, &key).await.expect("tokens stored");
    assert_eq!(stored.status, LinkStatus::Active);
    assert!(
        stored.tokens.scopes.iter().any(|s| s == "offline_access"),
        "offline_access was asked for and granted"
    );
    assert!(
        stored.tokens.refresh_token.is_some(),
        "a refresh token is kept"
    );
    assert_eq!(
        contacts_status(&served, &stored.tokens.access_token, SECOND_TENANT).await,
        200
    );

    // The first sync (requested by the link) brings the consented tenant's contact only.
    first_run_finished(&served).await;
    assert!(hub_named(&served, "organizations", "/name", "Kiwi Traders").is_some());
    assert!(hub_named(&served, "organizations", "/name", "Not Consented Ltd").is_none());

    // A sync through the runtime moves a new Xero contact into Connec!.
    served.xero.seed_in(
        SECOND_TENANT,
        "Contacts",
        json!({ "Name": "Later Ltd", "EmailAddress": "later@ltd.example" }),
    );
    assert_eq!(served.sync_now(GROUP).await, service::WorkOutcome::Done);
    let later = hub_named(&served, "organizations", "/name", "Later Ltd")
        .expect("the sync brought the new contact");
    assert_eq!(later["email"]["address"], json!("later@ltd.example"));

    // Unlinking on the console deletes the connection and revokes the refresh token at Xero.
    let stored = stored_for(&served, &key).await.unwrap();
    assert_eq!(served.unlink_group(GROUP).await, "unlinked");
    assert!(stored_for(&served, &key).await.is_none());
    let refresh = stored.tokens.refresh_token.as_ref().unwrap().expose();
    let pairs = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
    let refused = identity_call(&served, "token", &pairs).await;
    assert_eq!(refused, 400, "the refresh token is revoked");
    let connections = client()
        .get(format!("{}/connections", served.xero_url))
        .bearer_auth(stored.tokens.access_token.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(connections.status(), 401, "so are its access tokens");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intent_to_receive_passes_forged_deliveries_queue_nothing_and_tenants_reach_their_groups() {
    const OTHER: &str = "cld-xero-other";
    let served = serve_xero().await;
    // Xero checks the URL when the subscription is activated: before any link.
    hooks(&served, true);
    let intent = served.xero.intent_to_receive().await;
    assert!(intent.passed, "{intent:?}");
    let [good, bad] = intent.probes.as_slice() else {
        panic!("two probes: {intent:?}");
    };
    let seen = |p: &emulators::IntentProbe| (p.status, p.empty_body, p.in_time);
    assert_eq!(
        (seen(good), seen(bad)),
        ((Some(200), true, true), (Some(401), true, true))
    );

    hooks(&served, false);
    let seed = |name: &str| {
        let contact = served
            .xero
            .seed_in(TENANT, "Contacts", json!({ "Name": name }));
        contact["ContactID"].as_str().unwrap().to_owned()
    };
    let (id, signed_id) = (seed("Forgery Target"), seed("Signed Target"));
    link(&served).await;
    first_run_finished(&served).await;
    assert!(hub_named(&served, "organizations", "/name", "Forgery Target").is_some());
    // And again once linked.
    hooks(&served, true);
    assert!(served.xero.intent_to_receive().await.passed);

    // Both contacts change while no webhook target is set (no events); then a delivery naming
    // the first comes with a forged signature, and with none; then a signed one naming the
    // second.
    hooks(&served, false);
    for (id, name) in [(&id, "Forgery Renamed"), (&signed_id, "Signed Renamed")] {
        served
            .xero
            .seed_in(TENANT, "Contacts", json!({ "ContactID": id, "Name": name }));
    }
    let body = |id: &str| {
        json!({
            "events": [{
                "resourceUrl": format!("{}/api.xro/2.0/Contacts/{id}", served.xero_url),
                "resourceId": id, "tenantId": TENANT, "tenantType": "ORGANISATION",
                "eventCategory": "CONTACT", "eventType": "UPDATE",
                "eventDateUtc": "2026-01-01T10:00:00.123",
            }],
            "firstEventSequence": 1, "lastEventSequence": 1, "entropy": "FORGEDFORGEDFORGEDXX",
        })
        .to_string()
    };
    let url = format!("{}/webhooks/xero", served.public_url);
    let post = |body: String, key: Option<&str>| {
        let mut request = client()
            .post(&url)
            .header("content-type", "application/json");
        if let Some(key) = key {
            let signature = webhooks::body_hmac_signature(key, body.as_bytes());
            request = request.header("x-xero-signature", signature);
        }
        request.body(body).send()
    };
    for key in [Some("not-the-key"), None] {
        let answer = post(body(&id), key).await.unwrap();
        assert_eq!(answer.status(), 401);
        assert!(answer.bytes().await.unwrap().is_empty(), "an empty 401");
    }
    let answer = post(body(&signed_id), Some(XERO_WEBHOOK_KEY))
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert!(answer.bytes().await.unwrap().is_empty(), "an empty 200");
    // Work runs in the order it was queued: had a forged delivery been queued, its contact
    // would have been fetched before the signed one's.
    served
        .eventually("the signed event's contact is fetched", || {
            hub_named(&served, "organizations", "/name", "Signed Renamed").is_some()
        })
        .await;
    assert!(hub_named(&served, "organizations", "/name", "Forgery Target").is_some());

    // Xero has one webhook URL per app: events of every tenant share a delivery, and each
    // goes to the group linked to its tenant.
    served
        .xero
        .add_tenant(TenantConfig::new(SECOND_TENANT, "Second Org"));
    let two = served
        .xero
        .seed_in(SECOND_TENANT, "Contacts", json!({ "Name": "Two Co" }));
    served.xero.consent_as_tenant(SECOND_TENANT);
    served.link_group(OTHER).await;
    served.run_finished_after(OTHER, None).await;
    hooks(&served, true);
    served.xero.pause_webhooks(true);
    let delivered = served.xero.deliveries().len();
    for (tenant, id, name) in [
        (TENANT, &json!(id), "One"),
        (SECOND_TENANT, &two["ContactID"], "Two"),
    ] {
        served
            .xero
            .seed_in(tenant, "Contacts", json!({ "ContactID": id, "Name": name }));
    }
    served.xero.pause_webhooks(false);
    let names = |group: &str| -> Vec<Value> {
        let orgs = served.connec.records(group, "organizations");
        orgs.iter().map(|o| o["name"].clone()).collect()
    };
    served
        .eventually("each group has its own tenant's change", || {
            names(GROUP).contains(&json!("One")) && names(OTHER) == [json!("Two")]
        })
        .await;
    let deliveries = &served.xero.deliveries()[delivered..];
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    assert_eq!((deliveries[0].status, deliveries[0].events), (Some(200), 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_carry_ids_and_the_contacts_and_invoices_are_fetched_without_a_sync() {
    let logs = CapturedLogs::capture();
    let served = serve_xero().await;
    let company = served.xero.seed_in(
        TENANT,
        "Contacts",
        json!({
            "Name": "Harbour Supplies", "EmailAddress": "office@harbour.example",
            "ContactPersons": [
                { "FirstName": "Ann", "LastName": "Lee", "EmailAddress": "ann@harbour.example" },
                { "FirstName": "Ben", "LastName": "Ng", "EmailAddress": "ben@harbour.example" },
            ],
        }),
    );
    let contact_id = company["ContactID"].as_str().unwrap().to_owned();
    let invoice = served.xero.seed_in(
        TENANT,
        "Invoices",
        json!({
            "Type": "ACCREC", "Status": "AUTHORISED", "InvoiceNumber": "INV-LIVE-1",
            "Contact": { "ContactID": contact_id },
            "LineItems": [{ "Description": "Consulting", "Quantity": 2, "UnitAmount": 150,
                            "AccountCode": "200", "TaxType": "OUTPUT2" }],
        }),
    );
    let invoice_id = invoice["InvoiceID"].clone();
    let key = link(&served).await;
    assert_eq!(key.account, TENANT);
    first_run_finished(&served).await;
    for (collection, field, value) in [
        ("organizations", "/name", "Harbour Supplies"),
        ("people", "/email/address", "ann@harbour.example"),
        ("people", "/email/address", "ben@harbour.example"),
        ("invoices", "/status", "AUTHORISED"),
    ] {
        assert!(
            hub_named(&served, collection, field, value).is_some(),
            "{value} in Connec!"
        );
    }
    let sold = hub_named(&served, "invoices", "/transaction_number", "INV-LIVE-1").unwrap();
    assert_eq!(
        sold["lines"][0]["quantity"].as_f64(),
        Some(2.0),
        "its line travelled: {sold}"
    );
    let ids = |collection: &str| -> Vec<String> {
        let records = served.connec.records(GROUP, collection);
        let mut ids: Vec<String> = records
            .iter()
            .map(|r| connec::record::hub_id(r).unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    let ids_before = (ids("organizations"), ids("people"));
    let runs = run_count(&served).await;
    let delivered_before = served.xero.deliveries().len();

    // A third party changes the contact in Xero: a signed CONTACT UPDATE with its id only.
    hooks(&served, true);
    served.xero.seed_in(
        TENANT,
        "Contacts",
        json!({
            "ContactID": contact_id,
            "Name": "Harbour Supplies Ltd", "EmailAddress": "accounts@harbour.example",
            "ContactPersons": [
                { "FirstName": "Ann", "LastName": "Leeson", "EmailAddress": "ann@harbour.example" },
                { "FirstName": "Benjamin", "LastName": "Ng", "EmailAddress": "ben@harbour.example" },
            ],
        }),
    );
    served
        .eventually("the company and both people are updated", || {
            let org = hub_named(&served, "organizations", "/name", "Harbour Supplies Ltd");
            let ann = hub_named(&served, "people", "/last_name", "Leeson");
            let ben = hub_named(&served, "people", "/first_name", "Benjamin");
            org.is_some() && ann.is_some() && ben.is_some()
        })
        .await;
    let org = hub_named(&served, "organizations", "/name", "Harbour Supplies Ltd").unwrap();
    assert_eq!(org["email"]["address"], json!("accounts@harbour.example"));
    let ann = hub_named(&served, "people", "/last_name", "Leeson").unwrap();
    assert_eq!(ann["email"]["address"], json!("ann@harbour.example"));
    assert_eq!(
        (ids("organizations"), ids("people")),
        ids_before,
        "updated, not created"
    );
    let deliveries = served.xero.deliveries();
    let new = &deliveries[delivered_before..];
    assert!(
        new.iter().any(|d| d.status == Some(200) && d.events > 0),
        "the events were delivered by webhook: {new:?}"
    );

    // A new contact (a person): a CREATE event; the person is fetched into Connec!. Then it
    // is archived in Xero (an UPDATE): INACTIVE in Connec!.
    let cara = json!({ "Name": "Cara Diaz", "FirstName": "Cara", "LastName": "Diaz",
                       "EmailAddress": "cara@diaz.example" });
    let cara = served.xero.seed_in(TENANT, "Contacts", cara);
    let cara_status = || {
        hub_named(&served, "people", "/email/address", "cara@diaz.example")
            .map(|p| p["status"].clone())
    };
    served
        .eventually("the created contact reaches Connec!", || {
            cara_status().is_some()
        })
        .await;
    let archived = json!({ "ContactID": cara["ContactID"], "ContactStatus": "ARCHIVED" });
    served.xero.seed_in(TENANT, "Contacts", archived);
    let inactive = || cara_status() == Some(json!("INACTIVE"));
    served
        .eventually("the archived contact is inactive", inactive)
        .await;

    // The served runtime's access token expires at Xero (30 minutes on its clock): fetching
    // the next event's record gets a 401, the token is refreshed (rotated) and the fetch goes on.
    let linked = stored_for(&served, &key).await.unwrap();
    served.xero.advance(Duration::from_secs(1800 + 60));

    // The invoice is voided in Xero: an INVOICE UPDATE; Connec!'s invoice becomes INACTIVE.
    let voided = json!({ "InvoiceID": invoice_id, "Status": "VOIDED" });
    served.xero.seed_in(TENANT, "Invoices", voided);
    served
        .eventually("the voided invoice is inactive in Connec!", || {
            hub_named(&served, "invoices", "/transaction_number", "INV-LIVE-1")
                .is_some_and(|i| i["status"] == json!("INACTIVE"))
        })
        .await;
    let refreshed = stored_for(&served, &key).await.unwrap();
    assert_eq!(refreshed.status, LinkStatus::Active);
    assert!(
        refreshed.tokens.refresh_token != linked.tokens.refresh_token,
        "the rotated refresh token was stored"
    );
    assert_eq!(run_count(&served).await, runs, "no scheduled sync ran");

    assert!(
        logs.contain("real-time changes applied"),
        "logs were captured"
    );
    let mut needles = vec![
        XERO_CLIENT_SECRET,
        XERO_WEBHOOK_KEY,
        "ann@harbour.example",
        "Leeson",
    ];
    needles.extend(["accounts@harbour.example", "cara@diaz.example", "Diaz"]);
    for tokens in [&linked.tokens, &refreshed.tokens] {
        needles.push(tokens.access_token.expose());
        needles.extend(tokens.refresh_token.as_ref().map(SecretString::expose));
    }
    for needle in needles {
        assert!(
            !logs.contain(needle),
            "a secret or personal data reached the logs"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_refresh_one_rotating_token_once_and_a_revoked_one_needs_reauthorisation() {
    let served = serve_xero().await;
    let key = link(&served).await;
    first_run_finished(&served).await;

    // Two "processes": each its own connection to the served database and its own manager,
    // with the served Xero app's OAuth settings (Basic client auth) and a token URL through
    // the recording proxy.
    let (proxy, proxy_url) = TokenRecorder::start(&served.xero_url).await;
    let mut settings = xero_settings(&served.xero_url);
    settings["token_url"] = json!(proxy_url);
    let provider = connectors::factory("xero")
        .unwrap()
        .build(
            settings,
            &service::Tuning::default().build_context(&served.public_url),
        )
        .unwrap();
    let app = provider.oauth().cloned().expect("Xero is an OAuth app");
    let manager = || {
        let store: Arc<dyn CredentialStore> = Arc::new(
            EncryptedCredentialStore::open(&served.database, served.secret_key.clone()).unwrap(),
        );
        let manager = TokenManager::new(
            Arc::clone(&store),
            app.clone(),
            reqwest::Client::new(),
            DEFAULT_MARGIN,
        );
        (Arc::new(manager), store)
    };
    let (a, store_a) = manager();
    let (b, _store_b) = manager();
    let before = store_a.load(&key).await.unwrap().unwrap();
    proxy.watch(before.tokens.refresh_token.clone());

    // The access token expires on the emulator's clock (and by the managers' clock); the
    // token endpoint holds each request so that both refreshes are in flight at once.
    let ttl = Duration::from_secs(1800 + 60);
    served.xero.advance(ttl);
    let now = Timestamp::from_datetime(chrono::Utc::now()).plus(ttl);
    served.xero.set_token_delay(Duration::from_millis(300));
    let requests_before = served.xero.token_requests();
    let refresh = |manager: &Arc<TokenManager>| {
        let (manager, key) = (Arc::clone(manager), key.clone());
        tokio::spawn(async move { manager.access_token(&key, now).await })
    };
    let (ra, rb) = tokio::join!(refresh(&a), refresh(&b));
    served.xero.set_token_delay(Duration::ZERO);
    let (ta, tb) = (ra.unwrap().unwrap(), rb.unwrap().unwrap());
    assert_eq!(contacts_status(&served, &ta, TENANT).await, 200);
    assert_eq!(contacts_status(&served, &tb, TENANT).await, 200);
    assert_eq!(served.xero.token_requests() - requests_before, 2);
    let stored = store_a.load(&key).await.unwrap().unwrap();
    proxy.calls(|calls| {
        let mut seen: Vec<_> = calls
            .iter()
            .map(|c| (c.used_watched, c.status, c.error.as_deref()))
            .collect();
        seen.sort();
        // Each process called once with the old token; exactly one won.
        let expected = [(true, 200, None), (true, 400, Some("invalid_grant"))];
        assert_eq!(seen, expected);
        let issued = calls.iter().find_map(|c| c.issued.as_ref());
        assert!(
            stored.tokens.refresh_token.as_ref() == issued,
            "the store holds the refresh token the winning refresh issued"
        );
    });
    assert_eq!(
        stored.status,
        LinkStatus::Active,
        "no re-authorisation needed"
    );
    assert!(
        stored.tokens.access_token == ta && ta == tb,
        "both callers use the stored token"
    );

    // The refresh token is revoked at Xero (its session's access tokens with it): the next
    // sync gets a 401, its forced refresh an invalid_grant, and the link is marked once.
    let refresh = stored.tokens.refresh_token.as_ref().unwrap().expose();
    let revoked = identity_call(&served, "revocation", &[("token", refresh)]).await;
    assert_eq!(revoked, 200);
    let requests_before = served.xero.token_requests();
    assert_eq!(served.sync_now(GROUP).await, service::WorkOutcome::Done);
    let store = served.runtime.store();
    let run = store.recent_runs(&OrgId::new(GROUP), 1).await.unwrap();
    assert_eq!(run[0].status, RunStatus::Failed);
    let why = |e: &String| e.contains("needs re-authorisation");
    assert!(run[0].errors.iter().all(why), "{:?}", run[0].errors);
    let marked = stored_for(&served, &key).await.unwrap();
    assert!(
        matches!(marked.status, LinkStatus::NeedsReauthorization { .. }),
        "{:?}",
        marked.status
    );
    assert_eq!(served.xero.token_requests() - requests_before, 1);
    // Later work fails fast, in every process, without calling Xero again.
    served.sync_now(GROUP).await;
    let error = b.access_token(&key, now).await.unwrap_err();
    assert!(
        matches!(error, TokenError::NeedsReauthorization { .. }),
        "{error:?}"
    );
    assert_eq!(served.xero.token_requests() - requests_before, 1);

    // Linking again (a new consent) makes the same account's link active with new tokens.
    let contact = json!({ "Name": "After Relink Ltd" });
    served.xero.seed_in(TENANT, "Contacts", contact);
    let relinked_at = Timestamp::from_datetime(chrono::Utc::now());
    let relinked_key = link(&served).await;
    assert_eq!(relinked_key, key, "the same tenant, the same account");
    let relinked = store_a.load(&key).await.unwrap().unwrap();
    assert_eq!(relinked.status, LinkStatus::Active);
    assert_eq!(
        contacts_status(&served, &relinked.tokens.access_token, TENANT).await,
        200
    );
    // The link requests its sync, as the first one did.
    served.run_finished_after(GROUP, Some(relinked_at)).await;
    assert!(hub_named(&served, "organizations", "/name", "After Relink Ltd").is_some());
}
