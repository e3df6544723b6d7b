//! One write request, element by element: `PUT` creates only, `POST` creates or updates.
//! With `summarizeErrors=true` (the default) one invalid element refuses the whole request
//! (`400` ValidationException, nothing saved); with `summarizeErrors=false` the valid elements
//! are saved and every element comes back with its `StatusAttributeString` (`OK`/`ERROR`),
//! `HasValidationErrors` and `ValidationErrors`.

use serde_json::{Map, Value, json};

use super::fields::{Invalid, ZERO_ID};
use super::state::{Kind, Tx};
use super::{contacts, invoices, items, payments};
use crate::common::{Faults, scalar_string};

/// `PUT` (create only) or `POST` (create or update).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verb {
    Put,
    Post,
}

/// What a write request produced.
pub(super) enum Written {
    /// `200`: the elements as the answer lists them.
    Ok(Vec<Value>),
    /// `400`: a ValidationException with these elements.
    Refused(Vec<Value>),
}

/// The elements of a body: `{"Contacts": [...]}`, a bare array, or one element.
pub(super) fn elements(kind: Kind, body: &Value) -> Result<Vec<Map<String, Value>>, String> {
    let list = match body {
        Value::Object(m) => match m
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(kind.collection()))
        {
            Some((_, Value::Array(a))) => a.clone(),
            Some((_, v @ Value::Object(_))) => vec![v.clone()],
            Some(_) => return Err(format!("{} must be an array", kind.collection())),
            None => vec![body.clone()],
        },
        Value::Array(a) => a.clone(),
        _ => return Err("The request body must be a JSON object".into()),
    };
    list.into_iter()
        .map(|v| match v {
            Value::Object(m) => Ok(m),
            _ => Err(format!("Each of {} must be an object", kind.collection())),
        })
        .collect()
}

/// Applies one element.
pub(super) fn apply(
    tx: &mut Tx<'_>,
    kind: Kind,
    verb: Verb,
    el: &Map<String, Value>,
    path_id: Option<&str>,
) -> Result<String, Invalid> {
    match kind {
        Kind::Contacts => contacts::write(tx, verb, el, path_id),
        Kind::Items => items::write(tx, verb, el, path_id),
        Kind::Invoices => invoices::write(tx, verb, el, path_id),
        Kind::Payments => match path_id {
            Some(id) => payments::delete(tx, id, el),
            None if verb == Verb::Post && super::fields::text(el, "PaymentID").is_some() => {
                Err(vec!["Payments cannot be updated; use POST /Payments/{PaymentID} with Status DELETED to delete one.".into()])
            }
            None => payments::create(tx, el),
        },
    }
}

/// An element that failed, as submitted, and why.
type Failed = (Map<String, Value>, Invalid);

/// Applies every element of a request (see the [module docs](self)).
pub(super) fn write_all(
    tx: &mut Tx<'_>,
    kind: Kind,
    verb: Verb,
    els: &[Map<String, Value>],
    path_id: Option<&str>,
    summarize: bool,
    faults: &Faults,
) -> Written {
    let start = tx.savepoint();
    let mut outcome: Vec<Result<String, Failed>> = Vec::new();
    for el in els {
        let sp = tx.savepoint();
        let injected = faults.record_hit(|field| lookup(el, field));
        let result = match injected {
            Some(rule) => Err(vec![format!(
                "Injected fault: {} = {} is refused",
                rule.field,
                scalar_string(&rule.value).unwrap_or_default()
            )]),
            None => apply(tx, kind, verb, el, path_id),
        };
        match result {
            Ok(id) => outcome.push(Ok(id)),
            Err(errors) => {
                tx.rollback_to(sp);
                outcome.push(Err((el.clone(), errors)));
            }
        }
    }
    let failed = outcome.iter().any(Result::is_err);
    if summarize && failed {
        tx.rollback_to(start);
        let elements = outcome
            .into_iter()
            .filter_map(Result::err)
            .map(|(el, errors)| error_element(kind, el, &errors, false))
            .collect();
        return Written::Refused(elements);
    }
    let rendered = outcome
        .into_iter()
        .map(|r| match r {
            Ok(id) => {
                let mut v = tx
                    .get(kind, &id)
                    .map(|rec| tx.t.render(kind, rec))
                    .unwrap_or(Value::Null);
                if !summarize {
                    v["StatusAttributeString"] = "OK".into();
                    v["HasValidationErrors"] = false.into();
                }
                v
            }
            Err((el, errors)) => error_element(kind, el, &errors, true),
        })
        .collect();
    Written::Ok(rendered)
}

/// An element as submitted, with its validation messages.
fn error_element(kind: Kind, mut el: Map<String, Value>, errors: &[String], status: bool) -> Value {
    el.entry(kind.id_field()).or_insert(ZERO_ID.into());
    el.insert("HasValidationErrors".into(), true.into());
    if kind == Kind::Invoices {
        el.insert("HasErrors".into(), true.into());
    }
    if status {
        el.insert("StatusAttributeString".into(), "ERROR".into());
    }
    el.insert(
        "ValidationErrors".into(),
        errors.iter().map(|m| json!({ "Message": m })).collect(),
    );
    Value::Object(el)
}

/// A dotted path in a submitted element (for record faults).
fn lookup(el: &Map<String, Value>, path: &str) -> Option<Value> {
    crate::common::lookup_path(&Value::Object(el.clone()), path).cloned()
}
