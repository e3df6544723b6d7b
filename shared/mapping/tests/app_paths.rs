//! `EntityMapping::app_paths` and `app_fields_under`: table tests of what a
//! mapping declares, and properties tying the list to what `to_hub` really
//! reads and `to_app` really writes.

use mapping::{EntityMapping, FunctionRegistry};
use proptest::prelude::*;
use serde_json::{Map, Value};

/// Loads YAML written indented inside the test source (the common leading
/// indentation is removed).
fn load(yaml: &str) -> EntityMapping {
    let indent = yaml
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let text: String = yaml
        .lines()
        .map(|l| format!("{}\n", l.get(indent..).unwrap_or("")))
        .collect();
    EntityMapping::from_yaml_str(&text, "test.yaml", &FunctionRegistry::new())
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// `(path, reads, writes)` for every app path.
fn listed(m: &EntityMapping) -> Vec<(String, bool, bool)> {
    m.app_paths()
        .iter()
        .map(|p| (p.path.to_string(), p.reads, p.writes))
        .collect()
}

/// `(reads, writes)`.
type Flags = (bool, bool);
/// `(what the case shows, mapping YAML, expected paths with their flags)`.
type Case = (&'static str, &'static str, &'static [(&'static str, Flags)]);

const RW: Flags = (true, true);
const R: Flags = (true, false);
const W: Flags = (false, true);

#[test]
fn app_paths_table() {
    let cases: &[Case] = &[
        (
            "both directions read and write",
            "fields: [{ hub: a, app: properties.a }, { hub: b.c, app: properties.b }]",
            &[("properties.a", RW), ("properties.b", RW)],
        ),
        (
            "one-way rules",
            "
             fields:
               - { hub: a, app: A, direction: to_app }
               - { hub: b, app: B, direction: to_hub }",
            &[("A", W), ("B", R)],
        ),
        (
            "to_app defaults are writes",
            "fields: [{ hub: a, app: A, direction: to_app, default: x }]",
            &[("A", W)],
        ),
        (
            "to_hub defaults still read",
            "fields: [{ hub: a, app: A, direction: to_hub, default: x }]",
            &[("A", R)],
        ),
        (
            "a to_app constant is written, not read",
            "fields: [{ app: properties.source, direction: to_app, constant: connec }]",
            &[("properties.source", W)],
        ),
        (
            "a to_hub constant touches no app path, even with an app path given",
            "
             fields:
               - { hub: kind, direction: to_hub, constant: person }
               - { hub: kind2, app: Kind, direction: to_hub, constant: person }",
            &[],
        ),
        (
            "declared twice: first place, flags merged",
            "
             fields:
               - { hub: a, app: X, direction: to_app }
               - { hub: b, app: Y }
               - { hub: c, app: X, direction: to_hub }",
            &[("X", RW), ("Y", RW)],
        ),
        (
            "two readers of one path: listed once",
            "
             fields:
               - { hub: a, app: X, direction: to_hub }
               - { hub: b, app: X, direction: to_hub }",
            &[("X", R)],
        ),
        (
            "references read and write, after the fields",
            "
             fields: [{ hub: a, app: A }]
             references: [{ hub: org, app: properties.company, entity: organizations }]",
            &[("A", RW), ("properties.company", RW)],
        ),
        (
            "fan-out paths as written",
            "fields: [{ hub: \"tags[].name\", app: \"Tags[].Name\" }, { hub: \"phones[0]\", app: Phone }]",
            &[("Tags[].Name", RW), ("Phone", RW)],
        ),
        (
            "lines: the array, then its element paths in full, at the rule's place",
            "
             fields:
               - { hub: title, app: Reference }
               - hub: lines
                 app: LineItems
                 lines:
                   fields:
                     - { hub: qty, app: Quantity }
                     - { hub: note, app: Note, direction: to_hub }
                   references:
                     - { hub: item_id, app: Item.Code, entity: items }
               - { hub: total, app: Total }
             references: [{ hub: org, app: Contact.ContactID, entity: organizations }]",
            &[
                ("Reference", RW),
                ("LineItems", RW),
                ("LineItems[].Quantity", RW),
                ("LineItems[].Note", R),
                ("LineItems[].Item.Code", RW),
                ("Total", RW),
                ("Contact.ContactID", RW),
            ],
        ),
        (
            "a one-way lines rule limits its element paths",
            "
             fields:
               - hub: lines
                 app: Lines
                 direction: to_app
                 lines:
                   fields: [{ hub: a, app: A }, { hub: b, app: B, direction: to_hub }]
                   references: [{ hub: item, app: Item, entity: items }]",
            &[("Lines", W), ("Lines[].A", W), ("Lines[].Item", W)],
        ),
        (
            "nested lines join every level",
            "
             fields:
               - hub: groups
                 app: Groups
                 lines:
                   fields:
                     - hub: lines
                       app: Lines
                       lines: { fields: [{ hub: q, app: Q }] }",
            &[
                ("Groups", RW),
                ("Groups[].Lines", RW),
                ("Groups[].Lines[].Q", RW),
            ],
        ),
        ("no rules", "fields: []", &[]),
    ];
    for (what, yaml, want) in cases {
        let got = listed(&load(yaml));
        let want: Vec<(String, bool, bool)> = want
            .iter()
            .map(|(p, (r, w))| (p.to_string(), *r, *w))
            .collect();
        assert_eq!(got, want, "{what}");
    }
}

#[test]
fn app_paths_of_the_people_fixture() {
    let m = load(include_str!("fixtures/people.yaml"));
    let got = listed(&m);
    let want = [
        ("properties.firstname", RW),
        ("properties.email", RW),
        ("properties.is_customer", RW),
        ("properties.numberofemployees", RW),
        ("properties.phone", RW),
        ("properties.hs_lead_status", RW),
        ("properties.date_of_birth", RW),
        ("properties.hs_analytics_source", W),
        ("LineItems", RW),
        ("LineItems[].Description", RW),
        ("LineItems[].Quantity", RW),
        ("LineItems[].ItemCode", RW),
        ("properties.associatedcompanyid", RW),
    ]
    .map(|(p, (r, w))| (p.to_string(), r, w));
    assert_eq!(got, want);
    // Every reference app path is listed, as references() spells it.
    for r in m.references() {
        assert!(m.app_paths().iter().any(|p| p.path == r.app), "{}", r.app);
    }
}

#[test]
fn app_fields_under_table() {
    let m = load(include_str!("fixtures/people.yaml"));
    let props = [
        "firstname",
        "email",
        "is_customer",
        "numberofemployees",
        "phone",
        "hs_lead_status",
        "date_of_birth",
        "hs_analytics_source",
        "associatedcompanyid",
    ];
    let cases: &[(&str, &[&str])] = &[
        ("properties.", &props),
        ("properties", &props),
        ("", &["properties", "LineItems"]),
        ("LineItems[]", &["Description", "Quantity", "ItemCode"]),
        ("LineItems[].", &["Description", "Quantity", "ItemCode"]),
        // The array itself has no children; its elements do.
        ("LineItems", &[]),
        ("properties.firstname", &[]),
        ("prop", &[]),
        ("nope.", &[]),
        ("a..b", &[]),
    ];
    for (prefix, want) in cases {
        assert_eq!(m.app_fields_under(prefix), *want, "prefix {prefix:?}");
    }

    let m = load(
        "
         fields:
           - { hub: a, app: properties.address.city }
           - { hub: b, app: properties.address.zip }
           - { hub: \"c[].n\", app: \"properties.tags[].name\" }
           - { hub: d, app: \"properties.phones[0]\" }
           - { hub: e, app: other.x }",
    );
    assert_eq!(
        m.app_fields_under("properties."),
        ["address", "tags", "phones"]
    );
    assert_eq!(m.app_fields_under("properties.address"), ["city", "zip"]);
    assert_eq!(m.app_fields_under("properties.tags[]"), ["name"]);
}

/// A mapping with every kind of app path: both ways, one way, constants,
/// fan-out, `lines` with one-way fields and a nested reference, references.
const SHAPES: &str = "
fields:
  - { hub: a, app: properties.a }
  - { hub: b.c, app: properties.b }
  - { hub: out, app: properties.out, direction: to_app }
  - { hub: in, app: properties.in, direction: to_hub }
  - { app: properties.source, direction: to_app, constant: connec }
  - { hub: kind, direction: to_hub, constant: person }
  - { hub: \"tags[].name\", app: \"Tags[].Name\" }
  - hub: lines
    app: Lines
    lines:
      fields:
        - { hub: qty, app: Qty }
        - { hub: note, app: Note, direction: to_hub }
        - { hub: memo, app: Memo, direction: to_app }
      references:
        - { hub: item_id, app: Item.Code, entity: items }
references:
  - { hub: org, app: properties.org, entity: organizations }
";

/// Keeps only what lies at or under one of `paths` (`x[]` stands for every
/// element of array `x`); containers on the way to a path are kept with
/// their other members removed, array elements are never removed (so
/// indices stay aligned).
fn prune(v: &Value, at: &str, paths: &[String]) -> Option<Value> {
    let covers = |p: &String| {
        at == p
            || at
                .strip_prefix(p.as_str())
                .is_some_and(|r| r.starts_with(['.', '[']))
    };
    let leads_to = |p: &String| {
        at.is_empty()
            || p.strip_prefix(at)
                .is_some_and(|r| r.starts_with(['.', '[']))
    };
    if paths.iter().any(covers) {
        return Some(v.clone());
    }
    if !paths.iter().any(leads_to) {
        return None;
    }
    Some(match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .filter_map(|(k, v)| {
                    let child = if at.is_empty() {
                        k.clone()
                    } else {
                        format!("{at}.{k}")
                    };
                    prune(v, &child, paths).map(|v| (k.clone(), v))
                })
                .collect::<Map<String, Value>>(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| prune(v, &format!("{at}[]"), paths).unwrap_or(Value::Null))
                .collect(),
        ),
        other => other.clone(),
    })
}

/// Random records over the keys of both sides of [`SHAPES`] plus noise, so
/// that rules find objects, arrays, scalars, nulls or nothing at their paths.
fn record() -> impl Strategy<Value = Value> {
    let key = prop::sample::select(vec![
        "properties",
        "a",
        "b",
        "c",
        "out",
        "in",
        "source",
        "org",
        "kind",
        "Tags",
        "tags",
        "Name",
        "name",
        "Lines",
        "lines",
        "Qty",
        "qty",
        "Note",
        "note",
        "Memo",
        "memo",
        "Item",
        "Code",
        "item_id",
        "noise",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-5i64..5).prop_map(Value::from),
        "[a-c]{0,2}".prop_map(Value::String),
    ];
    let top = key.clone();
    let value = leaf.prop_recursive(4, 48, 5, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.into(), v)).collect())),
        ]
    });
    prop::collection::btree_map(top, value, 0..8)
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.into(), v)).collect()))
}

fn paths(m: &EntityMapping, reads: bool) -> Vec<String> {
    m.app_paths()
        .iter()
        .filter(|p| if reads { p.reads } else { p.writes })
        .map(|p| p.path.to_string())
        .collect()
}

proptest! {
    /// What `to_hub` produces (or fails with) depends only on the read
    /// paths: a connector requesting exactly those sees the same result.
    #[test]
    fn to_hub_depends_only_on_read_paths(app in record()) {
        let m = load(SHAPES);
        let reads = paths(&m, true);
        let pruned = prune(&app, "", &reads).unwrap();
        prop_assert_eq!(m.to_hub(&app), m.to_hub(&pruned), "pruned to {}", pruned);
    }

    /// `to_app` writes nothing outside the written paths.
    #[test]
    fn to_app_writes_only_written_paths(hub in record()) {
        let m = load(SHAPES);
        let writes = paths(&m, false);
        if let Ok(app) = m.to_app(&hub) {
            prop_assert_eq!(prune(&app, "", &writes), Some(app.clone()));
        }
    }
}
