//! The HubSpot demo's records: what is seeded on both sides, what changes between the syncs,
//! and the final state as printed.

use std::collections::HashMap;
use std::time::Duration;

use connec::record;
use serde_json::{Value, json};

use super::{Emulators, GROUP, text};

pub(super) fn seed(e: &Emulators) {
    let acme = e.connec.seed(
        GROUP,
        "organizations",
        json!({ "name": "Acme Corp", "website": { "url": "acme.example" }, "industry": "Manufacturing" }),
    );
    let globex = e.connec.seed(
        GROUP,
        "organizations",
        json!({ "name": "Globex", "website": { "url": "globex.example" }, "number_of_employees": 250 }),
    );
    e.connec.seed(
        GROUP,
        "organizations",
        json!({ "name": "Initech", "website": { "url": "initech.example" } }),
    );
    let acme_id = record::hub_id(&acme).expect("seeded id");
    let globex_id = record::hub_id(&globex).expect("seeded id");
    e.connec.seed(
        GROUP,
        "people",
        json!({ "first_name": "Ann", "last_name": "Lee", "email": { "address": "ann@acme.example" },
                "job_title": "Sales", "organization_id": acme_id.as_str() }),
    );
    e.connec.seed(
        GROUP,
        "people",
        json!({ "first_name": "Bob", "last_name": "Stone", "email": { "address": "bob@globex.example" },
                "organization_id": globex_id.as_str() }),
    );
    e.connec.seed(
        GROUP,
        "people",
        json!({ "first_name": "Carol", "last_name": "Diaz", "email": { "address": "carol@example.org" } }),
    );
    e.connec.seed(
        GROUP,
        "people",
        json!({ "first_name": "Dave", "last_name": "Kim", "email": { "address": "dave@example.org" } }),
    );

    let acme_app = e.hubspot.seed(
        "companies",
        json!({ "name": "Acme Corp", "domain": "acme.example", "city": "Springfield" }),
    );
    let umbrella = e.hubspot.seed(
        "companies",
        json!({ "name": "Umbrella", "domain": "umbrella.example" }),
    );
    e.hubspot.seed(
        "contacts",
        json!({ "firstname": "Ann", "lastname": "Lee", "email": "ann@acme.example", "phone": "+1 555 0100",
                "associatedcompanyid": acme_app["id"] }),
    );
    e.hubspot.seed(
        "contacts",
        json!({ "firstname": "Erin", "lastname": "Wu", "email": "erin@umbrella.example",
                "associatedcompanyid": umbrella["id"] }),
    );
}

fn find_person(e: &Emulators, email: &str) -> Option<Value> {
    e.connec
        .records(GROUP, "people")
        .into_iter()
        .find(|p| p.pointer("/email/address").and_then(Value::as_str) == Some(email))
}

fn find_contact(e: &Emulators, email: &str) -> Option<Value> {
    e.hubspot
        .objects("contacts")
        .into_iter()
        .find(|c| c.pointer("/properties/email").and_then(Value::as_str) == Some(email))
}

pub(super) fn change_both_sides(e: &Emulators) {
    if let Some(id) = find_person(e, "bob@globex.example").and_then(|p| record::hub_id(&p)) {
        e.connec
            .update(GROUP, "people", id.as_str(), json!({ "job_title": "CTO" }));
    }
    if let Some(id) = find_person(e, "dave@example.org").and_then(|p| record::hub_id(&p)) {
        e.connec.update(
            GROUP,
            "people",
            id.as_str(),
            json!({ "status": "INACTIVE" }),
        );
    }
    if let Some(id) = find_person(e, "ann@acme.example").and_then(|p| record::hub_id(&p)) {
        e.connec.update(
            GROUP,
            "people",
            id.as_str(),
            json!({ "job_title": "VP Sales" }),
        );
    }
    std::thread::sleep(Duration::from_millis(5));
    if let Some(id) =
        find_contact(e, "ann@acme.example").and_then(|c| c["id"].as_str().map(str::to_owned))
    {
        e.hubspot
            .update("contacts", &id, json!({ "jobtitle": "Head of Sales" }));
    }
    if let Some(id) =
        find_contact(e, "erin@umbrella.example").and_then(|c| c["id"].as_str().map(str::to_owned))
    {
        e.hubspot
            .update("contacts", &id, json!({ "phone": "+44 20 7946 0000" }));
    }
}

pub(super) fn final_state(
    hub: &HashMap<String, Vec<Value>>,
    app: &HashMap<String, Vec<Value>>,
) -> String {
    let mut out = String::from("Final state\n  Connec! people:\n");
    let orgs: HashMap<String, String> = hub["organizations"]
        .iter()
        .filter_map(|o| {
            Some((
                record::hub_id(o)?.to_string(),
                o["name"].as_str()?.to_owned(),
            ))
        })
        .collect();
    for p in &hub["people"] {
        let org = p
            .get("organization_id")
            .and_then(record::connec_ref)
            .and_then(|id| orgs.get(id.as_str()).cloned())
            .unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "    {:<6} {:<6} {:<24} {:<14} {:<16} org: {:<10} {}\n",
            text(p, "/first_name"),
            text(p, "/last_name"),
            text(p, "/email/address"),
            text(p, "/job_title"),
            text(p, "/phone_work/landline"),
            org,
            text(p, "/status")
        ));
    }
    out.push_str("  Connec! organizations: ");
    let names: Vec<String> = hub["organizations"]
        .iter()
        .map(|o| text(o, "/name"))
        .collect();
    out.push_str(&names.join(", "));
    out.push_str("\n  HubSpot contacts:\n");
    let companies: HashMap<String, String> = app["companies"]
        .iter()
        .filter_map(|c| {
            Some((
                c["id"].as_str()?.to_owned(),
                c.pointer("/properties/name")?.as_str()?.to_owned(),
            ))
        })
        .collect();
    for c in &app["contacts"] {
        let company = c
            .pointer("/properties/associatedcompanyid")
            .and_then(Value::as_str)
            .and_then(|id| companies.get(id).cloned())
            .unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "    {:<6} {:<6} {:<24} {:<14} {:<16} company: {:<10} {}\n",
            text(c, "/properties/firstname"),
            text(c, "/properties/lastname"),
            text(c, "/properties/email"),
            text(c, "/properties/jobtitle"),
            text(c, "/properties/phone"),
            company,
            if c["archived"].as_bool() == Some(true) {
                "ARCHIVED"
            } else {
                "active"
            }
        ));
    }
    out.push_str("  HubSpot companies: ");
    let names: Vec<String> = app["companies"]
        .iter()
        .map(|c| text(c, "/properties/name"))
        .collect();
    out.push_str(&names.join(", "));
    out.push('\n');
    out
}
