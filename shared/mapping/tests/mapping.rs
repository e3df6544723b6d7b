//! Behaviour of whole mappings: both directions, null/missing semantics,
//! lines, references (loading and load errors: `load.rs`).

use mapping::{
    Direction, EntityMapping, FieldPath, FieldSpec, FunctionRegistry, MapError, OnNull, Transform,
    content_hash,
};
use serde_json::json;

mod common;

use common::{people, sample_hub};

#[test]
fn example_mapping_to_app() {
    let app = people().to_app(&sample_hub()).unwrap();
    assert_eq!(
        app,
        json!({
            "properties": {
                "firstname": "Ann",
                "email": "ann@example.io",
                "is_customer": "true",
                "numberofemployees": "12",
                "phone": "+44 1",
                "hs_lead_status": "UNQUALIFIED",
                "date_of_birth": "1990-04-05",
                "hs_analytics_source": "OFFLINE",
                "associatedcompanyid": "org-9",
            },
            "LineItems": [
                {"Description": "Widget", "Quantity": 2, "ItemCode": "item-1"},
                {"Description": "", "Quantity": 0.5},
            ],
        })
    );
}

#[test]
fn example_mapping_to_hub() {
    let app = json!({
        "id": "17",
        "properties": {
            "firstname": "Ann",
            "email": "ann@example.io",
            "is_customer": "false",
            "numberofemployees": "40",
            "phone": "",
            "hs_lead_status": "OPEN",
            "date_of_birth": "1990-04-05",
            "hs_analytics_source": "DIRECT",
            "associatedcompanyid": "org-9",
        },
        "LineItems": [{"Description": "X", "Quantity": 1, "ItemCode": "i-1", "TaxType": "NONE"}],
    });
    let hub = people().to_hub(&app).unwrap();
    assert_eq!(
        hub,
        json!({
            "first_name": "Ann",
            "email": {"address": "ann@example.io"},
            "is_customer": false,
            "number_of_employees": 40,
            "phone_work": {"landline": ""},
            "status": "ACTIVE",
            "birth_date": "1990-04-05T00:00:00Z",
            "organization_id": "org-9",
            "lines": [{"description": "X", "quantity": 1, "item_id": "i-1"}],
        })
    );
}

#[test]
fn missing_source_leaves_target_absent_unless_default() {
    let m = people();
    let app = m.to_app(&json!({"first_name": "Bo"})).unwrap();
    // Only the mapped value and the to_app default appear.
    assert_eq!(
        app,
        json!({"properties": {"firstname": "Bo", "hs_analytics_source": "OFFLINE"}})
    );
    // The default is not used when a value exists.
    let app = m.to_app(&json!({"lead_source": "WEB"})).unwrap();
    assert_eq!(app["properties"]["hs_analytics_source"], json!("WEB"));
    // to_app-only rule: nothing comes back.
    let hub = m.to_hub(&app).unwrap();
    assert_eq!(hub, json!({}));
}

#[test]
fn falsy_values_are_values() {
    let m = EntityMapping::builder()
        .map("a", "A")
        .map("b", "B")
        .map("c", "C")
        .field(FieldSpec::new("d", "D").default_value(json!("dflt")))
        .build()
        .unwrap();
    let app = m
        .to_app(&json!({"a": false, "b": 0, "c": "", "d": ""}))
        .unwrap();
    assert_eq!(app, json!({"A": false, "B": 0, "C": "", "D": ""}));
}

#[test]
fn null_is_ignored_by_default_and_cleared_on_request() {
    let m = people();
    let app = m
        .to_app(&json!({"first_name": null, "phone_work": {"landline": null}}))
        .unwrap();
    assert_eq!(
        app,
        json!({"properties": {"phone": "", "hs_analytics_source": "OFFLINE"}})
    );
    // Null never triggers the default.
    let m2 = EntityMapping::builder()
        .field(FieldSpec::new("x", "X").default_value(json!(1)))
        .field(FieldSpec::new("y", "Y").on_null(OnNull::Clear))
        .build()
        .unwrap();
    assert_eq!(
        m2.to_app(&json!({"x": null, "y": null})).unwrap(),
        json!({"Y": null})
    );
    // Clearing and defaults apply in both directions.
    assert_eq!(
        m2.to_hub(&json!({"Y": null})).unwrap(),
        json!({"x": 1, "y": null})
    );
}

#[test]
fn blank_string_parsed_to_null_counts_as_null() {
    let m = people();
    let hub = m
        .to_hub(&json!({"properties": {"numberofemployees": "", "is_customer": " "}}))
        .unwrap();
    assert_eq!(hub, json!({}));
}

#[test]
fn per_direction_defaults_and_constants() {
    let m = EntityMapping::builder()
        .field(
            FieldSpec::new("kind", "Type")
                .default_to_app(json!("PERSON"))
                .default_to_hub(json!("person")),
        )
        .field(FieldSpec::constant_to_app("Source", json!("connec")))
        .field(FieldSpec::constant_to_hub("origin.app", json!("hubspot")))
        .build()
        .unwrap();
    assert_eq!(
        m.to_app(&json!({})).unwrap(),
        json!({"Type": "PERSON", "Source": "connec"})
    );
    assert_eq!(
        m.to_hub(&json!({"Source": "ignored"})).unwrap(),
        json!({"kind": "person", "origin": {"app": "hubspot"}})
    );
}

#[test]
fn nested_paths_both_ways() {
    let m = EntityMapping::builder()
        .map("address.billing.city", "Addresses[0].City")
        .map("address.billing.zip", "Addresses[0].PostalCode")
        .map("phones[1].number", "Phone2")
        .build()
        .unwrap();
    let hub = json!({"address": {"billing": {"city": "Paris", "zip": "75001"}}, "phones": [{"number": "a"}, {"number": "b"}]});
    let app = m.to_app(&hub).unwrap();
    assert_eq!(
        app,
        json!({"Addresses": [{"City": "Paris", "PostalCode": "75001"}], "Phone2": "b"})
    );
    assert_eq!(
        m.to_hub(&app).unwrap(),
        json!({"address": {"billing": {"city": "Paris", "zip": "75001"}}, "phones": [null, {"number": "b"}]})
    );
}

#[test]
fn fan_out_fields_map_element_by_element() {
    let m = EntityMapping::builder()
        .field(
            FieldSpec::new("tags[]", "properties.tags[]")
                .to_app(Transform::Uppercase)
                .to_hub(Transform::Lowercase),
        )
        .field(
            FieldSpec::new("contacts[].email", "Contacts[].EmailAddress")
                .default_value(json!("none")),
        )
        .build()
        .unwrap();
    let hub = json!({"tags": ["a", "b"], "contacts": [{"email": "x@y"}, {}]});
    let app = m.to_app(&hub).unwrap();
    assert_eq!(
        app,
        json!({"properties": {"tags": ["A", "B"]}, "Contacts": [{"EmailAddress": "x@y"}, {"EmailAddress": "none"}]})
    );
    assert_eq!(m.to_hub(&app).unwrap()["tags"], json!(["a", "b"]));
}

#[test]
fn lines_preserve_order_and_copy_references_element_wise() {
    let m = people();
    let hub = json!({"lines": [
        {"item_id": "i-3", "quantity": 3},
        {"quantity": 1},
        {"item_id": "i-1", "description": "last"},
    ]});
    let app = m.to_app(&hub).unwrap();
    assert_eq!(
        app["LineItems"],
        json!([
            {"ItemCode": "i-3", "Quantity": 3},
            {"Quantity": 1},
            {"ItemCode": "i-1", "Description": "last"},
        ])
    );
    let back = m.to_hub(&app).unwrap();
    assert_eq!(back["lines"], hub["lines"]);
    // Empty arrays stay empty arrays.
    assert_eq!(
        m.to_app(&json!({"lines": []})).unwrap()["LineItems"],
        json!([])
    );
}

#[test]
fn references_are_listed_with_full_paths_and_copied_unchanged() {
    let m = people();
    let refs: Vec<(String, String, String)> = m
        .references()
        .iter()
        .map(|r| (r.hub.to_string(), r.app.to_string(), r.entity.clone()))
        .collect();
    assert_eq!(
        refs,
        vec![
            (
                "organization_id".into(),
                "properties.associatedcompanyid".into(),
                "organizations".into()
            ),
            (
                "lines[].item_id".into(),
                "LineItems[].ItemCode".into(),
                "items".into()
            ),
        ]
    );
    // The listed paths address the same values in real records.
    let hub = sample_hub();
    let app = m.to_app(&hub).unwrap();
    for r in m.references() {
        assert_eq!(r.hub.get_all(&hub), r.app.get_all(&app), "{}", r.hub);
    }
    // References may be non-string values and are not transformed.
    let app = m.to_app(&json!({"organization_id": 42})).unwrap();
    assert_eq!(app["properties"]["associatedcompanyid"], json!(42));
}

#[test]
fn top_level_fan_out_reference_into_lines() {
    let m = EntityMapping::builder()
        .field(
            FieldSpec::new("lines", "LineItems")
                .lines(EntityMapping::builder().map("qty", "Quantity")),
        )
        .reference("lines[].item_id", "LineItems[].ItemCode", "items")
        .build()
        .unwrap();
    let hub = json!({"lines": [{"qty": 1, "item_id": "a"}, {"qty": 2}, {"item_id": "c"}]});
    let app = m.to_app(&hub).unwrap();
    assert_eq!(
        app,
        json!({"LineItems": [{"Quantity": 1, "ItemCode": "a"}, {"Quantity": 2}, {"ItemCode": "c"}]})
    );
    assert_eq!(m.to_hub(&app).unwrap(), hub);
}

#[test]
fn engine_can_rewrite_reference_ids() {
    let m = people();
    let mut app = m.to_app(&sample_hub()).unwrap();
    for r in m.references() {
        r.app
            .rewrite(&mut app, |v| -> Result<_, String> {
                Ok(Some(json!(format!("app-{}", v.as_str().unwrap()))))
            })
            .unwrap();
    }
    assert_eq!(app["properties"]["associatedcompanyid"], json!("app-org-9"));
    assert_eq!(app["LineItems"][0]["ItemCode"], json!("app-item-1"));
    assert!(app["LineItems"][1].get("ItemCode").is_none());
}

#[test]
fn runtime_errors_name_field_and_problem() {
    let m = people();
    let err = m
        .to_hub(&json!({"properties": {"is_customer": "maybe"}}))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "field `is_customer` (app `properties.is_customer`): cannot parse \"maybe\" as a boolean"
    );
    assert!(matches!(
        err,
        MapError::Field {
            direction: Direction::ToHub,
            ..
        }
    ));

    let err = m
        .to_hub(&json!({"properties": {"hs_lead_status": "CUSTOMER"}}))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("field `status`") && err.contains("\"CUSTOMER\" is not in the enum table"),
        "{err}"
    );

    // Unknown status with a fallback does not fail to_app.
    let app = m.to_app(&json!({"status": "ARCHIVED"})).unwrap();
    assert_eq!(app["properties"]["hs_lead_status"], json!("OPEN"));

    let err = m
        .to_app(&json!({"lines": {"a": 1}}))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "field `lines` (app `LineItems`): expected an array for lines, found an object"
    );

    let err = m
        .to_app(&json!({"lines": [{}, 5]}))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("lines[1]") && err.contains("found a number"),
        "{err}"
    );

    let err = m.to_app(&json!("nope")).unwrap_err();
    assert!(matches!(err, MapError::NotAnObject { .. }));

    // Errors inside lines carry the element index.
    let strict = EntityMapping::builder()
        .field(FieldSpec::new("lines", "L").lines(
            EntityMapping::builder().field(FieldSpec::new("q", "Q").to_app(Transform::ParseNumber)),
        ))
        .build()
        .unwrap();
    let err = strict
        .to_app(&json!({"lines": [{"q": "1"}, {"q": "x"}]}))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "field `lines[1].q` (app `L[1].Q`): cannot parse \"x\" as a number"
    );
}

#[test]
fn custom_functions_from_registry() {
    let mut fns = FunctionRegistry::new();
    fns.register("cents_to_units", |v| {
        v.as_i64()
            .map(|c| json!(c as f64 / 100.0))
            .ok_or_else(|| format!("{v} is not an integer"))
    });
    let yaml = "fields:\n  - { hub: price, app: Price, to_app: { custom: cents_to_units }, direction: to_app }\n";
    let m = EntityMapping::from_yaml_str(yaml, "x.yaml", &fns).unwrap();
    assert_eq!(
        m.to_app(&json!({"price": 250})).unwrap(),
        json!({"Price": 2.5})
    );
    let err = m.to_app(&json!({"price": "a"})).unwrap_err().to_string();
    assert!(
        err.contains("custom function \"cents_to_units\" failed: \"a\" is not an integer"),
        "{err}"
    );
}

#[test]
fn clone_debug_send_sync() {
    fn assert_traits<T: Clone + std::fmt::Debug + Send + Sync>() {}
    assert_traits::<EntityMapping>();
    assert_traits::<FunctionRegistry>();
    let m = people();
    let m2 = m.clone();
    assert_eq!(m2.name(), Some("people"));
    assert!(format!("{m2:?}").contains("properties.firstname"));
    std::thread::spawn(move || m2.to_app(&json!({})).unwrap())
        .join()
        .unwrap();
}

#[test]
fn canonical_projection_ignores_unmapped_and_one_way_fields() {
    let m = people();
    let mut hub = sample_hub();
    let h1 = content_hash(&m.canonical_from_hub(&hub).unwrap());
    hub["notes"] = json!("changed, but unmapped");
    hub["lead_source"] = json!("to_app only");
    hub["email"]["address"] = json!("ann@example.io"); // same after trim+lowercase
    assert_eq!(h1, content_hash(&m.canonical_from_hub(&hub).unwrap()));
    hub["first_name"] = json!("Anne");
    assert_ne!(h1, content_hash(&m.canonical_from_hub(&hub).unwrap()));
    // Echo: the app record we produced hashes like the hub record.
    let app = m.to_app(&hub).unwrap();
    assert_eq!(
        content_hash(&m.canonical_from_hub(&hub).unwrap()),
        content_hash(&m.canonical_from_app(&app).unwrap())
    );
}

#[test]
fn field_path_public_api() {
    let p: FieldPath = "a.b[]".parse().unwrap();
    assert_eq!(p.as_str(), "a.b[]");
    assert_eq!(format!("{p}"), "a.b[]");
    let v = json!({"a": {"b": [1, 2]}});
    assert_eq!(p.get_all(&v), vec![&json!(1), &json!(2)]);
    let s = serde_json::to_string(&p).unwrap();
    assert_eq!(s, "\"a.b[]\"");
    let back: FieldPath = serde_json::from_str(&s).unwrap();
    assert_eq!(back, p);
    assert!(serde_json::from_str::<FieldPath>("\"a..b\"").is_err());
}
