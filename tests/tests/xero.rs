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
    World::on_xero_with(config, WorldOptions::default()).await
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
    assert_eq!(counts(&run, "people", Direction::ToApp).created, 1, "{run:#?}");
    assert_eq!(counts(&run, "people", Direction::ToApp).updated, 1, "{run:#?}");
    let contact = xero.get_in(TENANT, "Contacts", &acme_id).unwrap();
    let persons = contact["ContactPersons"].as_array().expect("persons");
    assert_eq!(persons.len(), 3, "{persons:#?}");
    assert_eq!(named(persons, "EmailAddress", "ann@acme.example")["LastName"], "Lee-Smith");
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
    assert_eq!(contacts.len(), 2, "a company and a person contact: {contacts:#?}");
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
        hub_person["id"].as_array().unwrap().iter().any(|e| e["provider"] == "xero"),
        "a contact person carries its derived id too: {hub_person}"
    );
    let quiet = world.sync().await;
    assert_eq!(quiet.totals().written(), 0, "no echo: {:#?}", quiet.counts);
    world.assert_agree().await;
}
