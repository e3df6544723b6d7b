//! Match-before-create on the hub side: the `$filter` that finds the records Connec!'s smart
//! merge (`opts.matching_fields`) would merge a new record into.
//!
//! # How Connec! compares `matching_fields`
//!
//! What the sources say:
//! - Maestrano's wiki ("Smart merging of record when creating or updating") describes
//!   `matching_fields` as merging "with any existing record having the same" values (its example:
//!   an item with the same SKU, `reference`); a match "behaves like an update request" and is
//!   answered 200 instead of 201. Several fields are listed in one array. No folding of case,
//!   accents or whitespace is mentioned anywhere.
//! - Connec!'s own data browser (`maestrano/connec-ui`, `visualiser.component.ts`) offers two
//!   different string filters: "Equals" as `field eq 'value'` and "Contains" as
//!   `field match /value/`, a pattern without an ignore-case flag; clauses are joined with `and`.
//! - The official framework (`maestrano-connector-rails`) sends values as the app mapped them,
//!   never normalised.
//!
//! So this module treats a match as **exact, case-sensitive equality of every listed field**
//! (`Ann@Example.com` does not match `ann@example.com`), combined with `and`, and sends each value
//! verbatim: a string quoted (`'` doubled inside, OData style), a number or a boolean bare. The
//! emulator's smart merge and its `$filter ... eq` use this same rule, so what
//! [`Hub::find_matches`](sync_core::ports::Hub::find_matches) finds is what a `POST` with
//! `matching_fields` would merge into. No source states the rule outright: if a Connec!
//! deployment turns out to fold case, only [`match_filter`] needs to change (e.g. to a
//! case-insensitive `match`), together with the emulator.
//!
//! A field with no usable value (missing, `null`, a blank string, an object or an array) means
//! the record cannot match: a smart merge needs a value to compare.

use serde_json::Value;

/// Checks that each matching field is a plain dotted path (`email.address`), so that it cannot
/// change the meaning of a `$filter`.
pub fn check_fields(fields: &[String]) -> Result<(), String> {
    for field in fields {
        let valid = !field.is_empty()
            && field.split('.').all(|segment| {
                !segment.is_empty()
                    && segment
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
        if !valid {
            return Err(format!(
                "matching field `{field}` is not a field path (letters, digits, `_`, dots \
                 between segments); fix the entity's matching fields"
            ));
        }
    }
    Ok(())
}

/// The value of a dotted path in a record, as a `$filter` literal; `None` when the record has no
/// usable value there.
pub fn filter_literal(record: &Value, path: &str) -> Option<String> {
    let value = path
        .split('.')
        .try_fold(record, |current, segment| current.get(segment))?;
    match value {
        Value::String(text) if text.trim().is_empty() => None,
        Value::String(text) => Some(format!("'{}'", text.replace('\'', "''"))),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// `f1 eq v1 and f2 eq v2 ...` for `record`; `None` when one of the fields has no usable value.
/// The fields must have passed [`check_fields`].
pub fn match_filter(fields: &[String], record: &Value) -> Option<String> {
    let clauses = fields
        .iter()
        .map(|field| Some(format!("{field} eq {}", filter_literal(record, field)?)))
        .collect::<Option<Vec<_>>>()?;
    (!clauses.is_empty()).then(|| clauses.join(" and "))
}

#[cfg(test)]
mod unit {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_sent_verbatim_and_quoted() {
        let record = json!({
            "name": "O'Brien & Sons",
            "email": { "address": "Ann@Example.com" },
            "number_of_employees": 12,
            "is_customer": true,
            "blank": "  ",
            "nothing": null,
            "tags": ["a"],
        });
        assert_eq!(
            filter_literal(&record, "name").as_deref(),
            Some("'O''Brien & Sons'")
        );
        assert_eq!(
            filter_literal(&record, "email.address").as_deref(),
            Some("'Ann@Example.com'"),
            "case is kept: Connec! compares exactly"
        );
        assert_eq!(
            filter_literal(&record, "number_of_employees").as_deref(),
            Some("12")
        );
        assert_eq!(
            filter_literal(&record, "is_customer").as_deref(),
            Some("true")
        );
        for absent in [
            "blank",
            "nothing",
            "tags",
            "email",
            "missing",
            "email.other",
        ] {
            assert_eq!(filter_literal(&record, absent), None, "{absent}");
        }
    }

    #[test]
    fn fields_combine_with_and_and_any_missing_value_means_no_match() {
        let fields = vec!["first_name".to_owned(), "email.address".to_owned()];
        assert_eq!(
            match_filter(
                &fields,
                &json!({ "first_name": "Ann", "email": { "address": "a@x.example" } })
            )
            .as_deref(),
            Some("first_name eq 'Ann' and email.address eq 'a@x.example'")
        );
        assert_eq!(match_filter(&fields, &json!({ "first_name": "Ann" })), None);
        assert_eq!(match_filter(&[], &json!({ "first_name": "Ann" })), None);
    }

    #[test]
    fn field_paths_cannot_inject_filter_syntax() {
        assert!(check_fields(&["email.address".into(), "name".into()]).is_ok());
        for bad in ["", "name eq 'x' or name", "a..b", ".a", "na'me"] {
            assert!(check_fields(&[bad.to_owned()]).is_err(), "{bad:?}");
        }
    }
}
