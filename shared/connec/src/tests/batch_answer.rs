//! `/batch` write answers read for their meta give every op the outcome the whole answer gives.

use serde_json::{Value, json};
use sync_core::domain::EntityName;

use sync_core::error::HttpError;

use crate::batch_answer::write_results;
use crate::hub::batch_outcome;

fn people() -> EntityName {
    EntityName::new("people")
}

/// A saved person as Connec! answers it: its meta among many other fields.
fn saved_person(id: &str, status: Option<&str>) -> Value {
    let mut person = json!({
        "id": [
            { "id": id, "provider": "connec", "realm": "org-g" },
            { "id": "77", "provider": "some-app", "realm": "account-1" }
        ],
        "first_name": "Ada", "last_name": "Lovelace",
        "email": { "address": "ada@example.com" },
        "address": { "billing": { "line1": "1 Main St", "city": "London" } },
        "notes": [{ "description": "x" }],
        "updated_at": "2026-12-02T10:00:00Z",
        "created_at": "2026-12-01T09:00:00Z",
    });
    if let Some(status) = status {
        person["status"] = json!(status);
    }
    person
}

/// The outcomes of every op, from the whole answer and from the reduced one.
fn both(answer: &Value) -> (Vec<String>, Vec<String>) {
    let whole: Vec<String> = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("{:?}", batch_outcome(&people(), r)))
        .collect();
    let reduced: Vec<String> = write_results(answer.to_string().as_bytes(), &people())
        .unwrap()
        .expect("results")
        .iter()
        .map(|r| format!("{:?}", batch_outcome(&people(), r)))
        .collect();
    (whole, reduced)
}

#[test]
fn every_kind_of_op_result_has_the_outcome_of_the_whole_answer() {
    let answer = json!({ "results": [
        { "status": 201, "body": { "people": saved_person("p1", None) } },
        { "status": 200, "body": { "people": saved_person("p2", Some("INACTIVE")) } },
        { "status": 200, "body": { "people": saved_person("p3", Some("ACTIVE")) } },
        // Saved, but no record of the collection, or one without an id or a date.
        { "status": 200, "body": { "organizations": saved_person("p4", None) } },
        { "status": 200, "body": { "people": { "first_name": "no id" } } },
        { "status": 201, "body": { "people": { "id": "p5", "updated_at": "not a date" } } },
        { "status": 200, "body": { "people": "not an object" } },
        { "status": 200 },
        // Failed ops: their messages.
        { "status": 422, "body": { "errors": [{ "title": "email is invalid" }] } },
        { "status": 404, "body": { "error": "not found" } },
        { "status": 500 },
        // Not results at all.
        { "body": { "people": saved_person("p6", None) } },
        { "status": "201", "body": { "people": saved_person("p7", None) } },
        "not an object",
        null,
    ]});
    let (whole, reduced) = both(&answer);
    assert_eq!(whole.len(), 15);
    assert_eq!(reduced, whole);
    // The table means something: successes and failures both occur.
    assert!(whole[0].starts_with("Ok(") && whole[1].contains("inactive: true"));
    assert!(whole[8].contains("email is invalid"));
}

#[test]
fn a_successful_ops_record_is_reduced_to_its_meta_fields() {
    let answer = json!({ "results": [
        { "status": 201, "body": { "people": saved_person("p1", Some("ACTIVE")) } },
    ]});
    let results = write_results(answer.to_string().as_bytes(), &people())
        .unwrap()
        .expect("results");
    let record = &results[0]["body"]["people"];
    let mut keys: Vec<&str> = record
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["created_at", "id", "status", "updated_at"]);
    assert_eq!(record["id"], saved_person("p1", None)["id"]);
}

#[test]
fn an_answer_without_results_or_not_json_is_refused() {
    let people = people();
    assert!(matches!(
        write_results(br#"{"ops": []}"#, &people),
        Ok(None)
    ));
    assert!(matches!(
        write_results(br#"{"results": {"a": 1}}"#, &people),
        Err(HttpError::Malformed { .. })
    ));
    match write_results(b"<html>busy</html>", &people) {
        Err(HttpError::Malformed { detail, path, .. }) => {
            assert!(detail.contains("17-byte body"), "{detail}");
            assert_eq!(path, "/batch");
        }
        other => panic!("{other:?}"),
    }
}
