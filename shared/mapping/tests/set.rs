//! `MappingSet::load`: built-in mappings, user overrides from a directory,
//! and errors naming the file (including files that override nothing).

use std::path::Path;

use mapping::{BuiltinMapping, FunctionRegistry, MappingError, MappingSet};
use serde_json::json;

const PEOPLE: &str = "
name: people
fields:
  - { hub: first_name, app: properties.firstname }
  - { hub: email.address, app: properties.email, to_app: [trim, lowercase] }
";
const ORGS: &str = r#"{"fields": [{"hub": "name", "app": "properties.name"}]}"#;

const BUILTINS: &[BuiltinMapping] = &[
    BuiltinMapping::new("people.yaml", PEOPLE),
    BuiltinMapping::new("organizations.json", ORGS),
];

fn load(dir: Option<&Path>) -> Result<MappingSet, MappingError> {
    load_with(BUILTINS, dir)
}

fn load_with(builtins: &[BuiltinMapping], dir: Option<&Path>) -> Result<MappingSet, MappingError> {
    MappingSet::load("hubspot", builtins, dir, &FunctionRegistry::new())
}

fn err(dir: Option<&Path>) -> String {
    match load(dir) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

/// A temporary directory holding `files` (name, contents).
fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn props(set: &MappingSet, file: &str) -> Vec<String> {
    set.get(file).unwrap().app_fields_under("properties.")
}

#[test]
fn builtins_without_a_directory() {
    let set = load(None).unwrap();
    assert_eq!(set.len(), 2);
    assert!(!set.is_empty());
    let files: Vec<&str> = set.iter().map(|(f, _)| f).collect();
    assert_eq!(files, ["people.yaml", "organizations.json"]);
    assert_eq!(set.origin("people.yaml"), Some("hubspot/people.yaml"));
    assert_eq!(
        set.origin("organizations.json"),
        Some("hubspot/organizations.json")
    );
    assert_eq!(set.get("people.yaml").unwrap().name(), Some("people"));
    assert_eq!(props(&set, "people.yaml"), ["firstname", "email"]);
    assert_eq!(props(&set, "organizations.json"), ["name"]);
    assert!(set.get("contacts.yaml").is_none());
    assert!(set.origin("contacts.yaml").is_none());
    let app = set
        .get("people.yaml")
        .unwrap()
        .to_app(&json!({"email": {"address": " A@X.IO "}}))
        .unwrap();
    assert_eq!(app, json!({"properties": {"email": "a@x.io"}}));
}

#[test]
fn a_file_in_the_directory_overrides_its_builtin_only() {
    let dir = dir_with(&[(
        "people.yaml",
        "fields: [{ hub: job_title, app: properties.jobtitle }]",
    )]);
    let set = load(Some(dir.path())).unwrap();
    assert_eq!(props(&set, "people.yaml"), ["jobtitle"]);
    let path = dir.path().join("people.yaml").display().to_string();
    assert_eq!(set.origin("people.yaml"), Some(path.as_str()));
    assert_eq!(props(&set, "organizations.json"), ["name"]);
    assert_eq!(
        set.origin("organizations.json"),
        Some("hubspot/organizations.json")
    );
    // The built-in order is kept whichever files are overridden.
    let files: Vec<&str> = set.iter().map(|(f, _)| f).collect();
    assert_eq!(files, ["people.yaml", "organizations.json"]);
}

#[test]
fn json_overrides_are_parsed_as_json() {
    let dir = dir_with(&[(
        "organizations.json",
        r#"{"fields": [{"hub": "website", "app": "properties.domain"}]}"#,
    )]);
    let set = load(Some(dir.path())).unwrap();
    assert_eq!(props(&set, "organizations.json"), ["domain"]);
    assert_eq!(props(&set, "people.yaml"), ["firstname", "email"]);
}

#[test]
fn an_empty_directory_or_unrelated_files_change_nothing() {
    let dir = dir_with(&[
        ("README.md", "my overrides"),
        ("notes.txt", "x"),
        (".people.yaml.swp", "\u{0}garbage"),
        (".hidden.yaml", "not: [a mapping"),
    ]);
    // Kubernetes config maps mount `..data` directories next to the files.
    std::fs::create_dir(dir.path().join("..data")).unwrap();
    let set = load(Some(dir.path())).unwrap();
    assert_eq!(set.origin("people.yaml"), Some("hubspot/people.yaml"));
    assert_eq!(props(&set, "people.yaml"), ["firstname", "email"]);
    let empty = tempfile::tempdir().unwrap();
    assert_eq!(load(Some(empty.path())).unwrap().len(), 2);
}

#[test]
fn unknown_files_in_the_directory_are_errors() {
    let expected = "expected one of: people.yaml, organizations.json";
    let cases = [
        (
            "peple.yaml",
            format!(r#"unknown hubspot mapping file (did you mean "people.yaml"?); {expected}"#),
        ),
        (
            "People.yaml",
            format!(r#"unknown hubspot mapping file (did you mean "people.yaml"?); {expected}"#),
        ),
        (
            "people.yml",
            format!(r#"unknown hubspot mapping file (did you mean "people.yaml"?); {expected}"#),
        ),
        (
            "organizations.yaml",
            format!(
                r#"unknown hubspot mapping file (did you mean "organizations.json"?); {expected}"#
            ),
        ),
        (
            "contacts.JSON",
            format!("unknown hubspot mapping file; {expected}"),
        ),
    ];
    for (name, want) in cases {
        let dir = dir_with(&[(name, "fields: []")]);
        let path = dir.path().join(name).display().to_string();
        assert_eq!(err(Some(dir.path())), format!("{path}: {want}"), "{name}");
        match load(Some(dir.path())).unwrap_err() {
            MappingError::UnknownFile {
                origin,
                app,
                file,
                expected,
                ..
            } => {
                assert_eq!(origin, path);
                assert_eq!(app, "hubspot");
                assert_eq!(file, name);
                assert_eq!(expected, ["people.yaml", "organizations.json"]);
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    // Alongside a valid override, the unknown file still fails the load,
    // and the first bad name (in name order) is reported.
    let dir = dir_with(&[
        ("people.yaml", "fields: []"),
        ("zz.yaml", "fields: []"),
        ("aa.yaml", "fields: []"),
    ]);
    let msg = err(Some(dir.path()));
    assert!(
        msg.starts_with(&dir.path().join("aa.yaml").display().to_string()),
        "{msg}"
    );
}

#[test]
fn override_errors_name_the_file_path() {
    // Syntax error, with line and column.
    let dir = dir_with(&[("people.yaml", "fields:\n  - { hub: a, app: [b\n")]);
    let path = dir.path().join("people.yaml").display().to_string();
    let msg = err(Some(dir.path()));
    assert!(msg.starts_with(&format!("{path}:")), "{msg}");
    assert!(msg.contains("syntax error"), "{msg}");

    // Rule error, with "did you mean".
    let dir = dir_with(&[(
        "people.yaml",
        "fields: [{ hub: email, app: properties.email, to_app: lowercse }]",
    )]);
    let path = dir.path().join("people.yaml").display().to_string();
    assert_eq!(
        err(Some(dir.path())),
        format!(
            r#"{path}: fields[0] (hub "email"): unknown transform "lowercse" (did you mean "lowercase"?)"#
        )
    );

    // JSON syntax in a .json override.
    let dir = dir_with(&[("organizations.json", "{\"fields\": [")]);
    let path = dir.path().join("organizations.json").display().to_string();
    let msg = err(Some(dir.path()));
    assert!(msg.starts_with(&format!("{path}:")), "{msg}");
}

#[test]
fn unreadable_overrides_are_io_errors() {
    // Not UTF-8.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("people.yaml"), [0xff, 0xfe, 0x00]).unwrap();
    let path = dir.path().join("people.yaml").display().to_string();
    match load(Some(dir.path())).unwrap_err() {
        MappingError::Io { origin, .. } => assert_eq!(origin, path),
        other => panic!("{other:?}"),
    }
    assert!(
        err(Some(dir.path())).starts_with(&format!("{path}: cannot read mapping file: ")),
        "{}",
        err(Some(dir.path()))
    );

    // A directory where the override should be.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("people.yaml")).unwrap();
    assert!(matches!(
        load(Some(dir.path())).unwrap_err(),
        MappingError::Io { .. }
    ));
}

#[test]
fn a_missing_directory_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let msg = err(Some(&missing));
    assert!(
        msg.starts_with(&format!(
            "{}: cannot read mapping directory: ",
            missing.display()
        )),
        "{msg}"
    );
    assert!(matches!(
        load(Some(&missing)).unwrap_err(),
        MappingError::ReadDir { .. }
    ));
}

#[test]
fn builtin_errors_name_app_and_file() {
    let bad = [BuiltinMapping::new(
        "people.yaml",
        "fields: [{ hub: a, app: b, to_hub: uppercse }]",
    )];
    let msg = load_with(&bad, None).unwrap_err().to_string();
    assert_eq!(
        msg,
        r#"hubspot/people.yaml: fields[0] (hub "a"): unknown transform "uppercse" (did you mean "uppercase"?)"#
    );
    // A broken built-in is not reached when a user file overrides it.
    let dir = dir_with(&[("people.yaml", "fields: []")]);
    assert!(load_with(&bad, Some(dir.path())).is_ok());

    let toml = [BuiltinMapping::new("people.toml", "")];
    assert_eq!(
        load_with(&toml, None).unwrap_err().to_string(),
        "hubspot/people.toml: unsupported mapping file extension (expected .yaml, .yml or .json)"
    );

    let twice = [
        BuiltinMapping::new("people.yaml", PEOPLE),
        BuiltinMapping::new("people.yaml", PEOPLE),
    ];
    assert_eq!(
        load_with(&twice, None).unwrap_err().to_string(),
        "hubspot/people.yaml: listed twice among the built-in mappings"
    );

    let none = load_with(&[], None).unwrap();
    assert!(none.is_empty());
    assert_eq!(none.iter().count(), 0);
}

#[test]
fn custom_functions_reach_every_mapping() {
    let builtins = [BuiltinMapping::new(
        "people.yaml",
        "fields: [{ hub: n, app: N, to_app: { custom: double } }]",
    )];
    assert!(matches!(
        load_with(&builtins, None).unwrap_err(),
        MappingError::Rule { .. }
    ));
    let mut fns = FunctionRegistry::new();
    fns.register("double", |v| Ok(json!(v.as_i64().unwrap_or(0) * 2)));
    let set = MappingSet::load("app", &builtins, None, &fns).unwrap();
    let app = set
        .get("people.yaml")
        .unwrap()
        .to_app(&json!({"n": 21}))
        .unwrap();
    assert_eq!(app, json!({"N": 42}));
}
