//! The contacts complex entity: splitting a Xero contact into parts, and joining person writes
//! back into their company contact.

use serde_json::{Value, json};
use xero::contacts::{
    JoinOp, Joined, PersonRef, contact_person_of, is_person_contact, join_persons, keyed,
    member_id, person_contact_of, person_digest, person_key, unkeyed,
};
use xero::split_contact;

fn company() -> Value {
    json!({
        "ContactID": "c-1",
        "ContactStatus": "ACTIVE",
        "Name": "Acme Ltd",
        "FirstName": "Ann",
        "LastName": "Lee",
        "EmailAddress": "office@acme.test",
        "UpdatedDateUTC": "/Date(1503348544227+0000)/",
        "Phones": [
            { "PhoneType": "DDI", "PhoneNumber": "" },
            { "PhoneType": "DEFAULT", "PhoneNumber": "847-1294", "PhoneAreaCode": "(626)" },
        ],
        "ContactPersons": [
            { "FirstName": "Bo", "LastName": "Ng", "EmailAddress": "Bo@Acme.test", "IncludeInEmails": true },
            { "FirstName": "Cy", "LastName": "Ito" },
        ],
    })
}

#[test]
fn a_company_contact_splits_into_its_company_and_its_persons() {
    let parts = split_contact(&company()).unwrap();
    let entities: Vec<&str> = parts.iter().map(|p| p.entity.as_str()).collect();
    assert_eq!(entities, ["companies", "persons", "persons"]);

    let company_part = &parts[0].record;
    assert_eq!(company_part["ContactID"], "c-1");
    assert!(company_part.get("ContactPersons").is_none());
    // Phones keyed by type, whatever order Xero sent.
    assert_eq!(company_part["Phones"]["DEFAULT"]["PhoneNumber"], "847-1294");
    assert_eq!(company_part["Phones"]["DDI"]["PhoneNumber"], "");

    let bo = &parts[1].record;
    assert_eq!(bo["PersonID"], member_id("c-1", "bo@acme.test"));
    assert_eq!(bo["ParentContactID"], "c-1");
    assert_eq!(bo["FirstName"], "Bo");
    assert_eq!(bo["EmailAddress"], "Bo@Acme.test");
    assert_eq!(bo["IncludeInEmails"], true);
    // The parent's status and time, for describe.
    assert_eq!(bo["ContactStatus"], "ACTIVE");
    assert_eq!(bo["UpdatedDateUTC"], "/Date(1503348544227+0000)/");
    // Without an e-mail, the name is the key.
    let cy = &parts[2].record;
    assert_eq!(cy["PersonID"], member_id("c-1", "cy ito"));

    // Ids are stable: the same contact read again gives the same ids, and an e-mail's case does
    // not matter; no personal data in ids.
    let again = split_contact(&company()).unwrap();
    assert_eq!(again, parts);
    let id = bo["PersonID"].as_str().unwrap();
    assert!(!id.contains("acme"), "{id}");
    assert_eq!(
        PersonRef::parse(id),
        PersonRef::Member {
            contact: "c-1".into(),
            digest: person_digest("bo@acme.test")
        }
    );
    assert_ne!(
        member_id("c-1", "bo@acme.test"),
        member_id("c-2", "bo@acme.test")
    );
}

#[test]
fn a_person_contact_is_one_person_part_without_parent() {
    let person = json!({
        "ContactID": "c-9",
        "Name": "Katherine  Warren",
        "FirstName": "Katherine",
        "LastName": "Warren",
        "EmailAddress": "kat@example.test",
        "ContactStatus": "ARCHIVED",
        "UpdatedDateUTC": "/Date(1503348544227+0000)/",
        "ContactPersons": [],
    });
    let parts = split_contact(&person).unwrap();
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].entity.as_str(), "persons");
    assert_eq!(parts[0].record["PersonID"], "c-9");
    assert!(parts[0].record.get("ParentContactID").is_none());
    assert_eq!(PersonRef::parse("c-9"), PersonRef::Contact("c-9".into()));
}

#[test]
fn the_person_contact_rule() {
    let cases = [
        (
            json!({ "Name": "Ann Lee", "FirstName": "Ann", "LastName": "Lee" }),
            true,
        ),
        (
            json!({ "Name": "ann  LEE ", "FirstName": "Ann", "LastName": "Lee" }),
            true,
        ),
        (json!({ "Name": "Madonna", "FirstName": "Madonna" }), true),
        // A company with its primary person's names.
        (
            json!({ "Name": "Acme Ltd", "FirstName": "Ann", "LastName": "Lee" }),
            false,
        ),
        // No names: a company.
        (json!({ "Name": "Acme Ltd" }), false),
        // Contact persons make it a company whatever its name.
        (
            json!({ "Name": "Ann Lee", "FirstName": "Ann", "LastName": "Lee",
                    "ContactPersons": [{ "FirstName": "Bo" }] }),
            false,
        ),
    ];
    for (contact, person) in cases {
        assert_eq!(is_person_contact(&contact), person, "{contact}");
    }
    assert!(split_contact(&json!({ "Name": "No id" })).is_err());
}

#[test]
fn contact_persons_without_key_or_repeated_are_left_out() {
    let contact = json!({
        "ContactID": "c-1",
        "Name": "Acme",
        "ContactPersons": [
            { "IncludeInEmails": true },
            { "FirstName": "Bo", "EmailAddress": "bo@acme.test" },
            { "FirstName": "Bob", "EmailAddress": "BO@acme.test" },
        ],
    });
    let parts = split_contact(&contact).unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[1].record["FirstName"], "Bo");
}

fn existing() -> Vec<Value> {
    vec![
        json!({ "FirstName": "Bo", "LastName": "Ng", "EmailAddress": "bo@acme.test", "IncludeInEmails": true }),
        json!({ "FirstName": "Cy", "LastName": "Ito" }),
        json!({ "FirstName": "Di", "LastName": "Oz", "EmailAddress": "di@acme.test" }),
    ]
}

#[test]
fn two_person_writes_merge_into_the_parent_and_keep_the_others() {
    // An update of Bo (whose e-mail changes) and a new person, in one parent.
    let ops = [
        JoinOp::Upsert {
            replaces: Some(person_digest("bo@acme.test")),
            person: contact_person_of(&json!({
                "FirstName": "Bo", "LastName": "Ng-Smith", "EmailAddress": "bo.ng@acme.test",
                "PersonID": "ignored", "ParentContactID": "c-1", "ContactStatus": "ACTIVE",
            })),
        },
        JoinOp::Upsert {
            replaces: None,
            person: contact_person_of(
                &json!({ "FirstName": "Ed", "LastName": "Wu", "EmailAddress": "ed@acme.test" }),
            ),
        },
    ];
    let (persons, outcomes) = join_persons(&existing(), &ops);
    assert_eq!(outcomes, [Joined::Applied, Joined::Applied]);
    assert_eq!(
        persons,
        [
            // Updated in place; what the write does not name (IncludeInEmails) is kept.
            json!({ "FirstName": "Bo", "LastName": "Ng-Smith", "EmailAddress": "bo.ng@acme.test", "IncludeInEmails": true }),
            json!({ "FirstName": "Cy", "LastName": "Ito" }),
            json!({ "FirstName": "Di", "LastName": "Oz", "EmailAddress": "di@acme.test" }),
            json!({ "FirstName": "Ed", "LastName": "Wu", "EmailAddress": "ed@acme.test" }),
        ]
    );
}

#[test]
fn a_create_with_a_known_key_updates_and_missing_persons_are_reported() {
    let ops = [
        // Same key as Di: no second Di.
        JoinOp::Upsert {
            replaces: None,
            person: json!({ "FirstName": "Diana", "EmailAddress": "DI@acme.test" }),
        },
        // An update of a person removed in Xero meanwhile.
        JoinOp::Upsert {
            replaces: Some(person_digest("gone@acme.test")),
            person: json!({ "FirstName": "Gone" }),
        },
        JoinOp::Remove {
            digest: person_digest("cy ito"),
        },
        JoinOp::Remove {
            digest: person_digest("nobody"),
        },
    ];
    let (persons, outcomes) = join_persons(&existing(), &ops);
    assert_eq!(
        outcomes,
        [
            Joined::Applied,
            Joined::Missing,
            Joined::Applied,
            Joined::Missing
        ]
    );
    assert_eq!(persons.len(), 2);
    assert_eq!(persons[1]["FirstName"], "Diana");
    assert_eq!(person_key(&persons[1]).as_deref(), Some("di@acme.test"));
}

#[test]
fn a_retried_rename_of_a_person_without_e_mail_finds_it_under_its_new_name() {
    // Cy Ito was renamed Cy Ito-Ray by a write whose answer was lost; the retry still names
    // the old key.
    let mut renamed = existing();
    renamed[1]["LastName"] = json!("Ito-Ray");
    let ops = [JoinOp::Upsert {
        replaces: Some(person_digest("cy ito")),
        person: json!({ "FirstName": "Cy", "LastName": "Ito-Ray" }),
    }];
    let (persons, outcomes) = join_persons(&renamed, &ops);
    assert_eq!(outcomes, [Joined::Applied]);
    assert_eq!(persons, renamed, "applied already: nothing added");
}

#[test]
fn a_person_without_parent_is_a_contact_named_first_last() {
    let record = json!({
        "FirstName": "Ann", "LastName": "Lee", "EmailAddress": "ann@example.test",
        "Phones": { "MOBILE": { "PhoneNumber": "555" } },
    });
    let contact = person_contact_of(&record).unwrap();
    assert_eq!(contact["Name"], "Ann Lee");
    assert_eq!(
        contact["Phones"],
        json!([{ "PhoneType": "MOBILE", "PhoneNumber": "555" }])
    );
    assert!(person_contact_of(&json!({ "EmailAddress": "x@y.test" })).is_err());
}

#[test]
fn keyed_arrays_go_back_to_xero_arrays() {
    let mut record = json!({
        "Addresses": [
            { "AddressType": "POBOX", "City": "Palo Alto" },
            { "AddressType": "STREET", "City": "" },
            { "City": "untyped" },
        ],
    });
    keyed(&mut record);
    assert_eq!(record["Addresses"]["POBOX"]["City"], "Palo Alto");
    assert_eq!(record["Addresses"].as_object().unwrap().len(), 2);
    unkeyed(&mut record);
    assert_eq!(
        record["Addresses"],
        json!([
            { "AddressType": "POBOX", "City": "Palo Alto" },
            { "AddressType": "STREET", "City": "" },
        ])
    );
}
