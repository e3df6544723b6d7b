//! `EntityMapping::canonical_beside` against the two trips it replaces: for every case the
//! canonical projection computed from the payload hashes as `canonical_from_hub` of the plain
//! record does, and mappings where a reference does not travel alone are refused (by the
//! validation, or as not separate).

use mapping::{EntityMapping, FunctionRegistry, Reference, content_hash};
use serde_json::{Value, json};

fn mapping(yaml: &str) -> EntityMapping {
    EntityMapping::from_yaml_str(yaml, "test.yaml", &FunctionRegistry::new()).unwrap()
}

const PEOPLE: &str = r#"
fields:
  - { hub: first_name, app: properties.firstname }
  - { hub: email.address, app: properties.email, to_app: [trim, lowercase] }
  - { hub: score, app: properties.score, direction: to_hub }
references:
  - { hub: organization_id, app: properties.company, entity: organizations }
  - { hub: owner_id, app: owner.id, entity: users }
  - { hub: 'tag_ids[]', app: 'properties.tags[]', entity: tags }
"#;

const INVOICES: &str = r#"
fields:
  - { hub: transaction_number, app: InvoiceNumber }
  - hub: lines
    app: LineItems
    lines:
      fields:
        - { hub: description, app: Description }
        - { hub: quantity, app: Quantity }
        - { hub: tax, app: TaxAmount, direction: to_hub }
      references:
        - { hub: item_id, app: ItemCode, entity: items }
references:
  - { hub: organization_id, app: Contact.ContactID, entity: organizations }
"#;

/// A reference value as the hub holds it: `{"ref": id}`, or anything else.
/// `plain`: the hub id, or null for `{"gone": ..}`; the payload's value: the app id, null
/// for gone, archived (`{"archived": ..}`) and empty arrays.
fn plain(_: &Reference, v: &Value) -> Value {
    match (v.get("ref"), v.get("archived"), v.get("gone")) {
        (Some(id), _, _) | (_, Some(id), _) => id.clone(),
        (_, _, Some(_)) => Value::Null,
        _ => v.clone(),
    }
}

fn for_app(v: &Value) -> Value {
    match v.get("ref") {
        Some(Value::String(id)) => json!(format!("app-{id}")),
        _ => Value::Null,
    }
}

/// `record` with every reference leaf (not null) rewritten by `f`.
fn rewritten(m: &EntityMapping, record: &Value, f: impl Fn(&Value) -> Value) -> Value {
    let mut out = record.clone();
    for reference in m.references() {
        reference
            .hub
            .rewrite(&mut out, |v| -> Result<_, ()> {
                Ok(Some(if v.is_null() { Value::Null } else { f(v) }))
            })
            .unwrap();
    }
    out
}

/// Rewrites every reference's app path of `record` with `translate` (nulls stay null).
fn rewrite_app_references(
    m: &EntityMapping,
    record: &mut Value,
    translate: impl Fn(&str, &Value) -> Value,
) {
    for reference in m.references() {
        reference
            .app
            .rewrite(record, |v| -> Result<_, ()> {
                Ok(Some(if v.is_null() {
                    Value::Null
                } else {
                    translate(&reference.entity, v)
                }))
            })
            .unwrap();
    }
}

/// `to_app_translated` against `to_app` followed by a rewrite of every reference's app path
/// (the nulls that pad a fanned-out array stay null: only the hub's values are translated).
fn check_translated(m: &EntityMapping, record: &Value) {
    let translate = |entity: &str, v: &Value| json!(format!("{entity}:{v}"));
    let mut expected = m.to_app(record).expect("mapped");
    rewrite_app_references(m, &mut expected, translate);
    let translated = m.to_app_translated(record, |entity, v| Some(translate(entity, v)));
    assert_eq!(translated.unwrap(), Some(expected.clone()), "{record}");
    // One value that cannot be translated: no payload at all.
    let mut refused = false;
    let partly = m.to_app_translated(record, |entity, v| {
        let first = !refused;
        refused = true;
        (!first).then(|| translate(entity, v))
    });
    let has_reference = m
        .references()
        .iter()
        .any(|r| r.hub.get_all(record).iter().any(|v| !v.is_null()));
    assert_eq!(partly.unwrap().is_none(), has_reference, "{record}");
}

fn check(m: &EntityMapping, record: Value) {
    assert!(m.references_separate());
    check_translated(m, &record);
    let payload = m.to_app(&rewritten(m, &record, for_app)).expect("payload");
    let beside = m
        .canonical_beside(&record, &payload, plain)
        .expect("separate references");
    let plain_record = rewritten(m, &record, |v| plain(&m.references()[0], v));
    let expected = m.canonical_from_hub(&plain_record).unwrap();
    assert_eq!(
        content_hash(&beside),
        content_hash(&expected),
        "{record}\nbeside:   {beside}\nexpected: {expected}"
    );
}

#[test]
fn people_references_every_way() {
    let m = mapping(PEOPLE);
    let r = |id: &str| json!({"ref": id});
    for refs in [
        json!({"organization_id": r("o-1"), "owner_id": r("u-1"), "tag_ids": [r("t-1"), r("t-2")]}),
        json!({"organization_id": null, "owner_id": null, "tag_ids": null}),
        json!({}),
        json!({"organization_id": [], "tag_ids": []}),
        json!({"organization_id": {"archived": "o-9"}, "owner_id": {"gone": "u-9"}}),
        json!({"tag_ids": [{"archived": "t-1"}, r("t-2"), null, {"gone": "t-4"}, r("t-5")]}),
        json!({"tag_ids": [r("t-1"), {"archived": "t-2"}]}),
        json!({"organization_id": "unrecognized", "owner_id": 12}),
    ] {
        let mut record = json!({
            "first_name": "Jo",
            "email": {"address": " Jo@X.io "},
            "score": 7,
            "unmapped": true,
        });
        for (k, v) in refs.as_object().unwrap() {
            record[k] = v.clone();
        }
        check(&m, record);
    }
}

#[test]
fn invoice_lines_with_nested_references() {
    let m = mapping(INVOICES);
    let line =
        |item: Value| json!({"description": "d", "quantity": 2, "tax": 1.5, "item_id": item});
    for lines in [
        json!([line(json!({"ref": "i-1"})), line(json!({"ref": "i-2"}))]),
        json!([
            line(Value::Null),
            line(json!({"archived": "i-2"})),
            line(json!([]))
        ]),
        json!([line(json!({"gone": "i-1"})), {"description": "no item"}]),
        json!([]),
        Value::Null,
    ] {
        for org in [
            json!({"ref": "o-1"}),
            json!({"archived": "o-1"}),
            Value::Null,
        ] {
            let record = json!({
                "transaction_number": "INV-1",
                "organization_id": org,
                "lines": lines,
            });
            check(&m, record);
        }
    }
}

#[test]
fn references_that_do_not_travel_alone_are_refused() {
    let mut compiled = 0;
    for yaml in [
        // A field reads the object holding the reference.
        "fields:\n  - { hub: org, app: properties.org_copy }\nreferences:\n  - { hub: org.id, app: properties.company, entity: organizations }\n",
        // A field writes under the reference's app path.
        "fields:\n  - { hub: name, app: company }\nreferences:\n  - { hub: organization_id, app: company.id, entity: organizations }\n",
        // Two references share a path.
        "references:\n  - { hub: org.id, app: a, entity: organizations }\n  - { hub: org, app: b, entity: organizations }\n",
        // A `lines` rule mapping towards the app only holds a reference.
        "fields:\n  - hub: lines\n    app: LineItems\n    direction: to_app\n    lines:\n      references:\n        - { hub: item_id, app: ItemCode, entity: items }\n",
        // A top-level rule under a `lines` rule's references.
        "fields:\n  - hub: lines\n    app: LineItems\n    lines:\n      references:\n        - { hub: item_id, app: ItemCode, entity: items }\n  - { hub: 'lines[0].item_id', app: first_item }\n",
    ] {
        compiled += usize::from(
            EntityMapping::from_yaml_str(yaml, "test.yaml", &FunctionRegistry::new()).is_ok(),
        );
        // Refused when compiled, or compiled as not separate.
        let Ok(m) = EntityMapping::from_yaml_str(yaml, "test.yaml", &FunctionRegistry::new())
        else {
            continue;
        };
        assert!(!m.references_separate(), "{yaml}");
        let hub = json!({"organization_id": "o-1"});
        let payload = m.to_app(&hub).unwrap_or(json!({}));
        assert!(
            m.canonical_beside(&hub, &payload, plain).is_none(),
            "{yaml}"
        );
    }
    // The validation refuses the overlapping paths; the `to_app` lines compile.
    assert_eq!(compiled, 1);
    assert!(mapping(PEOPLE).references_separate());
    assert!(mapping(INVOICES).references_separate());
}

/// `to_hub_translated` against a rewrite of every reference's app path (left out: null)
/// followed by `to_hub`.
fn check_to_hub_translated(m: &EntityMapping, app: &Value) {
    // "none" is left out; anything else named after its entity.
    let translate = |entity: &str, v: &Value| (v != "none").then(|| json!(format!("{entity}:{v}")));
    let mut copy = app.clone();
    rewrite_app_references(m, &mut copy, |entity, v| {
        translate(entity, v).unwrap_or(Value::Null)
    });
    let expected = m.to_hub(&copy).expect("mapped");
    let translated = m
        .to_hub_translated(app, translate)
        .expect("separate references");
    assert_eq!(translated.expect("mapped"), expected, "{app}");
}

#[test]
fn app_records_translated_as_they_map_to_the_hub() {
    let m = mapping(PEOPLE);
    for refs in [
        json!({"properties": {"company": "901", "tags": ["t1", "none", null, 7]}, "owner": {"id": "u-1"}}),
        json!({"properties": {"company": "none", "tags": []}, "owner": {"id": null}}),
        json!({"properties": {"company": null}, "owner": "not an object"}),
        json!({"properties": {"company": 12, "tags": "not an array"}}),
        json!({}),
    ] {
        let mut app = json!({"properties": {"firstname": "Jo", "email": "jo@x.io", "score": 3}});
        for (k, v) in refs.as_object().unwrap() {
            match (app.get_mut(k), v) {
                (Some(Value::Object(have)), Value::Object(more)) => {
                    have.extend(more.clone());
                }
                _ => app[k] = v.clone(),
            }
        }
        check_to_hub_translated(&m, &app);
    }
    let m = mapping(INVOICES);
    let line = |item: Value| json!({"Description": "d", "Quantity": 2, "TaxAmount": 1.5, "ItemCode": item});
    for lines in [
        json!([line(json!("i-1")), line(json!("none")), line(Value::Null)]),
        json!([{"Description": "no item"}, line(json!(""))]),
        json!([]),
        Value::Null,
    ] {
        for contact in [
            json!({"ContactID": "c-1"}),
            json!({"ContactID": "none"}),
            json!({}),
        ] {
            let app = json!({"InvoiceNumber": "INV-1", "Contact": contact, "LineItems": lines});
            check_to_hub_translated(&m, &app);
        }
    }
}
