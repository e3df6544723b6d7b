//! Loading mappings: YAML and JSON, files by extension, and load errors
//! naming the origin, the rule and the problem.

use mapping::{EntityMapping, FieldSpec, FunctionRegistry, MappingError};
use serde_json::json;

mod common;

use common::{PEOPLE, people, sample_hub};

fn load_err(yaml: &str) -> String {
    load_err_with(yaml, &FunctionRegistry::new())
}

fn load_err_with(yaml: &str, fns: &FunctionRegistry) -> String {
    match EntityMapping::from_yaml_str(yaml, "people.yaml", fns) {
        Ok(_) => panic!("expected a load error for:\n{yaml}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn json_and_yaml_load_the_same_mapping() {
    let yaml: serde_norway::Value = serde_norway::from_str(PEOPLE).unwrap();
    let json_src = serde_json::to_string(&yaml).unwrap();
    let from_json =
        EntityMapping::from_json_str(&json_src, "people.json", &FunctionRegistry::new()).unwrap();
    let hub = sample_hub();
    assert_eq!(
        from_json.to_app(&hub).unwrap(),
        people().to_app(&hub).unwrap()
    );
}

#[test]
fn from_file_by_extension() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("people.yml");
    std::fs::write(&yaml, PEOPLE).unwrap();
    let m = EntityMapping::from_file(&yaml, &FunctionRegistry::new()).unwrap();
    assert_eq!(m.references().len(), 2);

    let json_path = dir.path().join("orgs.json");
    std::fs::write(
        &json_path,
        r#"{"fields": [{"hub": "name", "app": "Name"}]}"#,
    )
    .unwrap();
    let m = EntityMapping::from_file(&json_path, &FunctionRegistry::new()).unwrap();
    assert_eq!(
        m.to_app(&json!({"name": "A"})).unwrap(),
        json!({"Name": "A"})
    );

    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "fields:\n  - hub: a\n    app: [b\n").unwrap();
    let err = EntityMapping::from_file(&bad, &FunctionRegistry::new()).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("bad.yaml:"), "{msg}");
    assert!(
        matches!(err, MappingError::Syntax { line, .. } if line >= 3),
        "{msg}"
    );

    let txt = dir.path().join("m.txt");
    std::fs::write(&txt, "").unwrap();
    assert!(matches!(
        EntityMapping::from_file(&txt, &FunctionRegistry::new()),
        Err(MappingError::UnsupportedExtension { .. })
    ));
    let missing = dir.path().join("missing.json");
    let err = EntityMapping::from_file(&missing, &FunctionRegistry::new()).unwrap_err();
    assert!(matches!(err, MappingError::Io { .. }));
    assert!(err.to_string().contains("missing.json"));
}

#[test]
fn json_syntax_error_names_origin_and_line() {
    let err = EntityMapping::from_json_str(
        "{\n  \"fields\": [\n  }",
        "orgs.json",
        &FunctionRegistry::new(),
    )
    .unwrap_err();
    assert!(matches!(err, MappingError::Syntax { line: 3, .. }), "{err}");
    assert!(err.to_string().starts_with("orgs.json:3:"), "{err}");
}

#[test]
fn load_error_unknown_transform_names_file_index_path_and_problem() {
    let yaml = r#"
fields:
  - { hub: first_name, app: properties.firstname }
  - { hub: last_name, app: properties.lastname }
  - { hub: title, app: properties.jobtitle }
  - hub: email.address
    app: properties.email
    to_app: [trim, lowercse]
"#;
    let err = load_err(yaml);
    assert!(
        err.starts_with(
            r#"people.yaml: fields[3] (hub "email.address"): unknown transform "lowercse""#
        ),
        "{err}"
    );
    assert!(err.contains("did you mean \"lowercase\""), "{err}");
}

#[test]
fn load_errors() {
    let cases: &[(&str, &str)] = &[
        (
            "fields:\n  - { hub: a, app: b, tranform: trim }\n",
            r#"people.yaml: fields[0] (hub "a"): unknown field `tranform`"#,
        ),
        (
            "fields:\n  - { hub: a, app: b }\n  - { hub: 'a..b', app: c }\n",
            r#"people.yaml: fields[1] (hub "a..b"): invalid hub path: path "a..b" has an empty segment"#,
        ),
        (
            "fields:\n  - { hub: a, app: '' }\n",
            r#"people.yaml: fields[0] (hub "a"): invalid app path: path is empty"#,
        ),
        (
            "fields:\n  - { hub: '[].a', app: b }\n",
            r#"people.yaml: fields[0] (hub "[].a"): invalid hub path"#,
        ),
        (
            "fields:\n  - { hub: a, app: b, to_app: { custom: nope } }\n",
            r#"people.yaml: fields[0] (hub "a"): unknown custom function "nope""#,
        ),
        (
            "fields:\n  - { hub: 'lines[]', app: L, lines: { fields: [ { hub: a, app: b } ] } }\n",
            r#"people.yaml: fields[0] (hub "lines[]"): `lines` needs a path naming the array itself"#,
        ),
        (
            "fields:\n  - { hub: a, app: X }\n  - { hub: b, app: X }\n",
            r#"people.yaml: fields[1] (hub "b"): to_app target "X" is also written by fields[0] (hub "a")"#,
        ),
        (
            "fields:\n  - { hub: a, app: X.y }\n  - { hub: a, app: Z, direction: to_hub }\n",
            r#"people.yaml: fields[1] (hub "a"): to_hub target "a" is also written by fields[0] (hub "a")"#,
        ),
        (
            "fields:\n  - { hub: a, app: X, to_app: { enum: { [1, 2]: x } } }\n",
            r#"people.yaml: fields[0] (hub "a"): enum table keys must be strings, numbers or booleans, found a list"#,
        ),
        (
            "fields:\n  - { hub: a, app: X, direction: to_app, constant: 1, to_app: trim }\n",
            r#"people.yaml: fields[0] (hub "a"): `constant` cannot be combined with transforms in the same direction (to_app)"#,
        ),
        (
            "fields:\n  - { app: X, constant: 1 }\n",
            r#"people.yaml: fields[0] (app "X"): `constant` needs `direction: to_app` or `direction: to_hub`"#,
        ),
        (
            "fields:\n  - { hub: a, app: X, direction: to_app, to_hub: trim }\n",
            r#"people.yaml: fields[0] (hub "a"): `to_hub` transforms on a rule with direction to_app would never run"#,
        ),
        (
            "fields:\n  - { hub: a }\n",
            r#"people.yaml: fields[0] (hub "a"): missing `app`"#,
        ),
        (
            "fields:\n  - { hub: a, app: b, clear_value: '' }\n",
            r#"people.yaml: fields[0] (hub "a"): `clear_value` only applies with `on_null: clear`"#,
        ),
        (
            "fields:\n  - { hub: a, app: b, to_app: { datetime: { from: iso, to: date } } }\n",
            r#"people.yaml: fields[0] (hub "a"): unknown datetime format "iso""#,
        ),
        (
            "fields:\n  - { hub: a, app: b, to_app: { datetime: { from: rfc3339, to: '%Q' } } }\n",
            r#"people.yaml: fields[0] (hub "a"): invalid strftime pattern "%Q""#,
        ),
        (
            "fields:\n  - { hub: 'a[].x', app: b }\n",
            r#"people.yaml: fields[0] (hub "a[].x"): hub path has 1 `[]` segment(s) but app path has 0"#,
        ),
        (
            "fields:\n  - { hub: a, app: b, direction: sideways }\n",
            r#"people.yaml: fields[0] (hub "a"): unknown variant `sideways`"#,
        ),
        (
            "fields:\n  - { hub: a, app: b, to_app: enum }\n",
            r#"people.yaml: fields[0] (hub "a"): transform "enum" needs parameters"#,
        ),
        (
            "fields:\n  - { hub: org, app: Org }\nreferences:\n  - { hub: org, app: OrgId, entity: organizations }\n",
            r#"people.yaml: references[0] (hub "org"): reference hub path "org" is also mapped by fields[0] (hub "org")"#,
        ),
        (
            "references:\n  - { hub: org, app: OrgId }\n",
            r#"people.yaml: references[0] (hub "org"): missing field `entity`"#,
        ),
        (
            "fields:\n  - hub: lines\n    app: L\n    lines:\n      fields:\n        - { hub: a, app: b }\n        - { hub: c, app: d, to_hub: uppercse }\n",
            r#"people.yaml: fields[0].lines.fields[1] (hub "c"): unknown transform "uppercse""#,
        ),
        (
            "fields:\n  - hub: lines\n    app: L\n    lines:\n      fields:\n        - { hub: a, app: b }\n        - { hub: c, app: b }\n",
            r#"people.yaml: fields[0].lines.fields[1] (hub "c"): to_app target "b" is also written by fields[0].lines.fields[0] (hub "a")"#,
        ),
        (
            "fields:\n  - { hub: a, app: b }\nextra: 1\n",
            r#"people.yaml: unknown key "extra""#,
        ),
        (
            "fields: 3\n",
            "people.yaml: `fields` must be a list, found a number",
        ),
        ("- a\n", "people.yaml: expected a map with `fields`"),
        (
            "fields:\n  - hub: a\n    app: b\n   to_app: trim\n",
            "people.yaml:4:",
        ),
    ];
    for (yaml, expected) in cases {
        let err = load_err(yaml);
        assert!(
            err.starts_with(expected),
            "for:\n{yaml}\nexpected prefix: {expected}\n     got: {err}"
        );
    }
}

#[test]
fn builder_errors_name_builder_origin() {
    let err = EntityMapping::builder()
        .map("a", "b")
        .field(FieldSpec::new("c", "b"))
        .build()
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        r#"<builder>: fields[1] (hub "c"): to_app target "b" is also written by fields[0] (hub "a")"#
    );
}

#[test]
fn enum_keys_may_be_numbers_and_booleans() {
    let yaml = "fields:\n  - { hub: level, app: Level, to_app: { enum: { 1: low, 2: high, true: yes } } }\n";
    let m = EntityMapping::from_yaml_str(yaml, "x.yaml", &FunctionRegistry::new()).unwrap();
    assert_eq!(
        m.to_app(&json!({"level": 2})).unwrap(),
        json!({"Level": "high"})
    );
    assert_eq!(
        m.to_app(&json!({"level": "1"})).unwrap(),
        json!({"Level": "low"})
    );
    assert_eq!(
        m.to_app(&json!({"level": true})).unwrap(),
        json!({"Level": "yes"})
    );
}
