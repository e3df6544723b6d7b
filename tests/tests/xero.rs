//! Xero end to end, over HTTP against its emulator and Connec!'s: a contact with its contact
//! persons both ways, the id write-back, items, invoices with lines (a deferred line, a
//! validation error in a batch of 50, a voided invoice, an idempotent retried create),
//! payments linked to their invoices, and Xero's limits.

use emulators::{XeroConfig, XeroEmulator};
use serde_json::{Value, json};
use sync_core::domain::{Direction, RunStatus};
use tests::{World, WorldOptions, counts};

const TENANT: &str = emulators::xero::DEMO_TENANT_ID;

async fn xero() -> (World, XeroEmulator) {
    let config = XeroConfig {
        limits: emulators::XeroLimits {
            per_minute: 100_000,
            ..emulators::XeroLimits::default()
        },
        ..XeroConfig::default()
    };
    World::on_xero_with(config, WorldOptions::default(), 100).await
}

/// A run's non-zero counts, errors and the id-maps' errors, for failure messages.
async fn explain(world: &World, run: &sync_core::domain::Run) -> String {
    let mut out = format!("status {:?}, errors {:?}\n", run.status, run.errors);
    for (key, c) in &run.counts {
        if *c != sync_core::domain::Counts::default() {
            out.push_str(&format!("  {} {:?}: {c:?}\n", key.entity, key.direction));
        }
    }
    for entity in ["organizations", "people", "items", "invoices", "payments"] {
        for map in world.idmaps(entity).await {
            if let Some(error) = map.last_error {
                out.push_str(&format!(
                    "  {entity} {:?}/{:?}: {error}\n",
                    map.hub_id, map.app_id
                ));
            }
        }
    }
    out
}

fn named<'a>(records: &'a [Value], key: &str, value: &str) -> &'a Value {
    records
        .iter()
        .find(|r| r[key] == value)
        .unwrap_or_else(|| panic!("{key} = {value} in {records:#?}"))
}

/// Whether a Connec! reference (an id array under `CONNEC-EXTERNAL-IDS`) names `id`.
fn refers_to(reference: &Value, id: &str) -> bool {
    match reference {
        Value::String(s) => s == id,
        Value::Array(ids) => ids.iter().any(|e| e["id"] == id),
        _ => false,
    }
}

/// The Connec! id of a record (the `connec` entry of its id array).
fn connec_id(record: &Value) -> String {
    connec::record::hub_id(record)
        .expect("a Connec! record has its id")
        .to_string()
}

/// Whether a Connec! record carries the Xero id `id` for the tenant (the id write-back).
fn carries_xero_id(record: &Value, id: &str) -> bool {
    record["id"].as_array().is_some_and(|ids| {
        ids.iter()
            .any(|e| e["provider"] == "xero" && e["realm"] == TENANT && e["id"] == id)
    })
}

#[tokio::test]
async fn a_contact_with_two_contact_persons_becomes_one_organization_and_two_people_and_back() {
    let (world, xero) = xero().await;
    let acme = xero.seed_in(
        TENANT,
        "Contacts",
        json!({ "Name": "Acme Ltd", "EmailAddress": "office@acme.example", "ContactPersons": [
            { "FirstName": "Ann", "LastName": "Lee", "EmailAddress": "ann@acme.example" },
            { "FirstName": "Bob", "LastName": "Ray", "EmailAddress": "bob@acme.example" },
        ] }),
    );
    let acme_id = acme["ContactID"].as_str().unwrap().to_owned();

    let run = world.sync().await;

    assert_eq!(run.status, RunStatus::Success, "{run:#?}");
    let orgs = world.hub("organizations");
    assert_eq!(orgs.len(), 1, "{orgs:#?}");
    let org = &orgs[0];
    assert_eq!(org["name"], "Acme Ltd");
    assert!(carries_xero_id(org, &acme_id), "{org}");
    let people = world.hub("people");
    assert_eq!(people.len(), 2, "{people:#?}");
    for email in ["ann@acme.example", "bob@acme.example"] {
        let person = world.hub_person(email).expect("in Connec!");
        assert!(
            refers_to(&person["organization_id"], &connec_id(org)),
            "{email} belongs to Acme: {person}"
        );
    }

    // Back: a new person of Acme and a changed name in Connec! reach Acme's contact persons,
    // and the persons nobody touched stay.
    world.hub_seed(
        "people",
        json!({ "first_name": "Cy", "last_name": "Moe", "email": { "address": "cy@acme.example" }, "organization_id": connec_id(org) }),
    );
    let ann = world.hub_person("ann@acme.example").unwrap();
    world.hub_update(
        "people",
        &connec::record::hub_id(&ann).unwrap(),
        json!({ "last_name": "Lee-Smith" }),
    );
    let run = world.sync().await;

    assert_eq!(run.status, RunStatus::Success, "{run:#?}");
    assert_eq!(
        counts(&run, "people", Direction::ToApp).created,
        1,
        "{run:#?}"
    );
    assert_eq!(
        counts(&run, "people", Direction::ToApp).updated,
        1,
        "{run:#?}"
    );
    let contact = xero.get_in(TENANT, "Contacts", &acme_id).unwrap();
    let persons = contact["ContactPersons"].as_array().expect("persons");
    assert_eq!(persons.len(), 3, "{persons:#?}");
    assert_eq!(
        named(persons, "EmailAddress", "ann@acme.example")["LastName"],
        "Lee-Smith"
    );
    named(persons, "EmailAddress", "bob@acme.example");
    named(persons, "EmailAddress", "cy@acme.example");
    // Nothing else: one contact in Xero.
    assert_eq!(xero.records_in(TENANT, "Contacts").len(), 1);
    let quiet = world.sync().await;
    assert_eq!(quiet.totals().written(), 0, "no echo: {:#?}", quiet.counts);
    world.assert_agree().await;
}

#[tokio::test]
async fn a_connec_organization_with_a_person_becomes_a_contact_with_its_contact_person() {
    let (world, xero) = xero().await;
    let org = world.hub_seed("organizations", json!({ "name": "Globex" }));
    let person = world.hub_seed(
        "people",
        json!({ "first_name": "Hank", "last_name": "Scorpio", "email": { "address": "hank@globex.example" }, "organization_id": org.as_str() }),
    );
    let loner = world.hub_seed(
        "people",
        json!({ "first_name": "Lone", "last_name": "Ranger", "email": { "address": "lone@ranger.example" } }),
    );

    let run = world.sync().await;

    assert_eq!(run.status, RunStatus::Success, "{run:#?}");
    let contacts = xero.records_in(TENANT, "Contacts");
    assert_eq!(
        contacts.len(),
        2,
        "a company and a person contact: {contacts:#?}"
    );
    let globex = named(&contacts, "Name", "Globex");
    let persons = globex["ContactPersons"].as_array().expect("persons");
    assert_eq!(persons.len(), 1);
    assert_eq!(persons[0]["EmailAddress"], "hank@globex.example");
    let lone = named(&contacts, "Name", "Lone Ranger");
    assert_eq!(lone["FirstName"], "Lone");
    // The id write-back: each Connec! record carries its Xero id.
    let globex_id = globex["ContactID"].as_str().unwrap();
    let hub_org = world
        .hub("organizations")
        .into_iter()
        .find(|o| connec_id(o) == org.as_str())
        .unwrap();
    assert!(carries_xero_id(&hub_org, globex_id), "{hub_org}");
    let hub_loner = world
        .hub("people")
        .into_iter()
        .find(|p| connec_id(p) == loner.as_str())
        .unwrap();
    assert!(
        carries_xero_id(&hub_loner, lone["ContactID"].as_str().unwrap()),
        "{hub_loner}"
    );
    let hub_person = world
        .hub("people")
        .into_iter()
        .find(|p| connec_id(p) == person.as_str())
        .unwrap();
    assert!(
        hub_person["id"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["provider"] == "xero"),
        "a contact person carries its derived id too: {hub_person}"
    );
    let quiet = world.sync().await;
    assert_eq!(quiet.totals().written(), 0, "no echo: {:#?}", quiet.counts);
    world.assert_agree().await;
}

/// A customer, an item and an AUTHORISED invoice of two chairs in Connec!.
fn seed_sale(world: &World, number: &str) -> (String, String, String) {
    let org = world.hub_seed(
        "organizations",
        json!({ "name": format!("Buyer of {number}") }),
    );
    let item = world.hub_seed(
        "items",
        json!({ "reference": format!("CH-{number}"), "name": "Chair", "sale_price": { "net_amount": 25 } }),
    );
    let invoice = world.hub_seed(
        "invoices",
        invoice(number, org.as_str(), item.as_str(), "OUTPUT2"),
    );
    (org.to_string(), item.to_string(), invoice.to_string())
}

fn invoice(number: &str, org: &str, item: &str, tax: &str) -> Value {
    json!({
        "type": "CUSTOMER",
        "transaction_number": number,
        "transaction_date": "2026-11-02T00:00:00Z",
        "due_date": "2026-12-02T00:00:00Z",
        "status": "AUTHORISED",
        "amount": { "currency": "NZD" },
        "organization_id": org,
        "lines": [{
            "description": "Chairs",
            "quantity": 2,
            "unit_price": { "net_amount": 25 },
            "account_code": "200",
            "tax_code": tax,
            "item_id": item,
        }],
    })
}

fn xero_invoice(xero: &XeroEmulator, number: &str) -> Value {
    xero.records_in(TENANT, "Invoices")
        .into_iter()
        .find(|i| i["InvoiceNumber"] == number)
        .unwrap_or_else(|| panic!("invoice {number} in Xero"))
}

fn hub_record(world: &World, collection: &str, id: &str) -> Value {
    world
        .hub(collection)
        .into_iter()
        .find(|r| connec_id(r) == id)
        .unwrap_or_else(|| panic!("{collection} {id} in Connec!"))
}

#[tokio::test]
async fn an_invoice_whose_item_is_not_yet_mapped_waits_and_completes_next_run_with_its_item() {
    let (world, xero) = xero().await;
    let (_, item, invoice) = seed_sale(&world, "INV-77");
    // Xero refuses the item once: the invoice cannot name it yet.
    xero.fail_record(emulators::RecordFault {
        field: "Code".into(),
        value: json!("CH-INV-77"),
        times: Some(1),
    });

    let first = world.sync().await;

    assert_eq!(first.status, RunStatus::Partial, "{first:#?}");
    assert_eq!(
        counts(&first, "items", Direction::ToApp).failed,
        1,
        "{first:#?}"
    );
    assert_eq!(
        counts(&first, "invoices", Direction::ToApp).deferred,
        1,
        "{first:#?}"
    );
    assert!(xero.records_in(TENANT, "Invoices").is_empty());

    let second = world.sync().await;

    assert_eq!(
        second.status,
        RunStatus::Success,
        "{}",
        explain(&world, &second).await
    );
    let sent = xero_invoice(&xero, "INV-77");
    let chair = xero
        .records_in(TENANT, "Items")
        .into_iter()
        .find(|i| i["Code"] == "CH-INV-77")
        .expect("the chair in Xero");
    let line = &sent["LineItems"][0];
    assert_eq!(line["ItemCode"], "CH-INV-77", "{line}");
    assert_eq!(sent["Type"], "ACCREC");
    assert_eq!(sent["Total"], json!(57.5), "2 x 25 + 15% GST: {sent}");
    let hub_item = hub_record(&world, "items", &item);
    assert!(carries_xero_id(
        &hub_item,
        chair["ItemID"].as_str().unwrap()
    ));
    let hub_invoice = hub_record(&world, "invoices", &invoice);
    assert!(carries_xero_id(
        &hub_invoice,
        sent["InvoiceID"].as_str().unwrap()
    ));
    // Xero's answer, read back, names the same item: Connec!'s line keeps its item.
    assert_eq!(line["Item"]["ItemID"], chair["ItemID"], "{line}");
    let hub_line = &hub_invoice["lines"][0];
    assert!(refers_to(&hub_line["item_id"], &item), "{hub_invoice}");
    // Xero made the buyer a customer when the invoice arrived: that travels, then nothing.
    let third = world.sync().await;
    assert_eq!(
        counts(&third, "organizations", Direction::ToHub).updated,
        1,
        "{third:#?}"
    );
    assert_eq!(third.totals().written(), 1, "{:#?}", third.counts);
    let buyer = &world.hub("organizations")[0];
    assert_eq!(buyer["is_customer"], true, "{buyer}");
    let quiet = world.sync().await;
    assert_eq!(quiet.totals().written(), 0, "no echo: {:#?}", quiet.counts);
    world.assert_agree().await;
}

#[tokio::test]
async fn a_payment_links_to_its_invoice_on_both_sides_and_voiding_makes_an_invoice_inactive() {
    let (world, xero) = xero().await;
    let (_, _, paid) = seed_sale(&world, "INV-1");
    let (_, _, voided) = seed_sale(&world, "INV-2");
    world.sync().await;
    let xero_paid = xero_invoice(&xero, "INV-1");
    let paid_id = xero_paid["InvoiceID"].as_str().unwrap().to_owned();

    // A payment in Connec! of INV-1 travels to Xero, linked to INV-1's Xero invoice.
    world.hub_seed(
        "payments",
        json!({ "type": "CUSTOMER", "transaction_date": "2026-11-10T00:00:00Z",
                "amount": { "total_amount": 20, "currency": "NZD" },
                "lines": [{ "amount": 20, "linked_transactions": [{ "id": paid, "class": "Invoice" }] }] }),
    );
    // A payment in Xero of INV-1, and INV-2 voided there.
    xero.seed_in(
        TENANT,
        "Payments",
        json!({ "Invoice": { "InvoiceID": paid_id }, "Account": { "Code": "090" }, "Amount": 30, "Date": "2026-11-11" }),
    );
    let voided_id = xero_invoice(&xero, "INV-2")["InvoiceID"]
        .as_str()
        .unwrap()
        .to_owned();
    xero.seed_in(
        TENANT,
        "Invoices",
        json!({ "InvoiceID": voided_id, "Status": "VOIDED" }),
    );

    let run = world.sync().await;

    assert_eq!(
        run.status,
        RunStatus::Success,
        "{}",
        explain(&world, &run).await
    );
    let payments = xero.records_in(TENANT, "Payments");
    assert_eq!(payments.len(), 2, "{payments:#?}");
    assert!(
        payments
            .iter()
            .all(|p| p["Invoice"]["InvoiceID"] == paid_id.as_str())
    );
    let hub_payments = world.hub("payments");
    assert_eq!(hub_payments.len(), 2, "{hub_payments:#?}");
    for payment in &hub_payments {
        let linked = &payment["lines"][0]["linked_transactions"][0]["id"];
        assert!(refers_to(linked, &paid), "linked to INV-1: {payment}");
    }
    assert_eq!(xero_invoice(&xero, "INV-1")["AmountDue"], json!(7.5));
    let hub_voided = hub_record(&world, "invoices", &voided);
    assert_eq!(hub_voided["status"], "INACTIVE");
    // Xero's lines replaced Connec!'s (sent with `sparse: false`), never added to them.
    let lines = hub_voided["lines"].as_array().map(Vec::len);
    assert_eq!(lines, Some(1), "{hub_voided}");
    let quiet = world.sync().await;
    assert_eq!(quiet.totals().written(), 0, "no echo: {:#?}", quiet.counts);
    world.assert_agree().await;
}

#[tokio::test]
async fn one_invalid_invoice_in_a_batch_of_50_fails_alone_with_xeros_message_on_its_id_map() {
    let (world, xero) = xero().await;
    let org = world.hub_seed("organizations", json!({ "name": "Big Buyer" }));
    let item = world.hub_seed(
        "items",
        json!({ "reference": "DESK", "name": "Desk", "sale_price": { "net_amount": 100 } }),
    );
    let mut bad = String::new();
    for n in 0..50 {
        let tax = if n == 17 { "BOGUS" } else { "OUTPUT2" };
        let id = world.hub_seed(
            "invoices",
            invoice(&format!("B-{n:02}"), org.as_str(), item.as_str(), tax),
        );
        if n == 17 {
            bad = id.to_string();
        }
    }
    xero.reset_stats();

    let run = world.sync().await;

    assert_eq!(run.status, RunStatus::Partial, "{run:#?}");
    let invoices = counts(&run, "invoices", Direction::ToApp);
    assert_eq!((invoices.created, invoices.failed), (49, 1), "{run:#?}");
    assert_eq!(xero.records_in(TENANT, "Invoices").len(), 49);
    let writes = xero
        .stats()
        .by_route
        .get("POST /api.xro/2.0/Invoices")
        .copied();
    assert_eq!(writes, Some(1), "one call for the 50: {:?}", xero.stats());
    let map = world
        .idmaps("invoices")
        .await
        .into_iter()
        .find(|m| m.hub_id.as_ref().is_some_and(|h| h.as_str() == bad))
        .expect("the bad invoice's id-map");
    let error = map.last_error.expect("its error");
    assert!(error.contains("TaxType code 'BOGUS'"), "{error}");
}

#[tokio::test]
async fn the_same_create_retried_with_its_idempotency_key_creates_one_invoice() {
    let (world, xero) = xero().await;
    let (_, _, invoice) = seed_sale(&world, "INV-5");
    // The invoice write is committed, then its answer is lost (a 503): the client retries it
    // with the same Idempotency-Key and Xero answers as the first time.
    xero.fail_calls(emulators::CallFault::new(
        "/Invoices",
        emulators::FaultKind::AfterCommit {
            then: Box::new(emulators::FaultKind::Status {
                status: 503,
                retry_after_secs: None,
            }),
        },
        1,
    ));

    let run = world.sync().await;

    assert_eq!(run.status, RunStatus::Success, "{run:#?}");
    let invoices = xero.records_in(TENANT, "Invoices");
    assert_eq!(invoices.len(), 1, "one invoice: {invoices:#?}");
    let hub = hub_record(&world, "invoices", &invoice);
    assert!(carries_xero_id(
        &hub,
        invoices[0]["InvoiceID"].as_str().unwrap()
    ));
    // Xero made the buyer a customer when the invoice arrived: one more run carries that.
    world.sync().await;
    world.assert_agree().await;
}

#[tokio::test]
async fn a_429_is_honoured_and_a_used_up_day_ends_the_run_partial_until_the_next_day() {
    let config = XeroConfig {
        limits: emulators::XeroLimits {
            per_minute: 100_000,
            per_day: 3,
            ..emulators::XeroLimits::default()
        },
        ..XeroConfig::default()
    };
    let (world, xero) = World::on_xero_with(config, WorldOptions::default(), 2).await;
    for n in 0..7 {
        xero.seed_in(TENANT, "Contacts", json!({ "Name": format!("Firm {n}") }));
    }
    // A minute's 429 first: waited out as Retry-After says, then the call goes through.
    xero.fail_calls(emulators::CallFault::new(
        "/Contacts",
        emulators::FaultKind::Status {
            status: 429,
            retry_after_secs: Some(1),
        },
        1,
    ));

    let first = world.sync().await;

    // Three calls a day: three pages of two contacts (the 429 is not counted), then the day
    // is over: the fourth page waits.
    assert_eq!(first.status, RunStatus::Partial, "{first:#?}");
    assert!(
        first.quota_exhausted && first.errors.is_empty(),
        "{first:#?}"
    );
    assert_eq!(
        world.hub("organizations").len(),
        6,
        "three pages of two travelled"
    );
    let calls = xero.stats().reads + xero.stats().writes;

    // The same process does not spin: the next run stops at once, without calling Xero.
    let again = world.sync().await;
    assert!(again.quota_exhausted, "{again:#?}");
    assert_eq!(
        xero.stats().reads + xero.stats().writes,
        calls,
        "no call made"
    );

    // A day later (a new process), the run resumes from its checkpoint: the fourth page, not
    // the first (and the new day's three calls run out further on).
    xero.advance(std::time::Duration::from_secs(24 * 3600 + 60));
    let next_day = world
        .restarted()
        .sync(&world.org, Default::default())
        .await
        .expect("runs");
    assert!(
        next_day.errors.is_empty(),
        "{}",
        explain(&world, &next_day).await
    );
    assert_eq!(world.hub("organizations").len(), 7);
    let created = counts(&next_day, "organizations", Direction::ToHub).created;
    assert_eq!(created, 1, "resumed at the fourth page: {next_day:#?}");
}
