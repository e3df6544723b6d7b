//! Writing items: `Code` is required and unique per organisation (`PUT` with a taken code is
//! refused; `POST` with a taken code and no `ItemID` updates that item, as Xero matches items
//! by code), `Code` at most 30 characters and `Name` at most 50. `DELETE /Items/{id}` deletes
//! for good.

use serde_json::{Map, Value, json};

use super::fields::{Invalid, new_id, overlay, same, text};
use super::state::{Kind, Tx};
use super::write::Verb;

/// Creates or updates one item; its id, or why not.
pub(super) fn write(
    tx: &mut Tx<'_>,
    verb: Verb,
    el: &Map<String, Value>,
    path_id: Option<&str>,
) -> Result<String, Invalid> {
    let code = text(el, "Code");
    let by_code = code.and_then(|c| find_code(tx, c, None));
    let given = path_id.or_else(|| text(el, "ItemID"));
    let id = match (given, verb) {
        (Some(id), _) => match tx.get(Kind::Items, id) {
            Some(_) if verb == Verb::Put => {
                return Err(vec![super::fields::put_existing("item", id)]);
            }
            Some(_) => Some(id.to_ascii_lowercase()),
            None => {
                return Err(vec![
                    "The document with the supplied id was not found for this endpoint.".into(),
                ]);
            }
        },
        (None, Verb::Put) if by_code.is_some() => {
            return Err(vec![taken(code.unwrap_or_default())]);
        }
        (None, _) => by_code,
    };
    let (id, base) = match id {
        Some(id) => {
            let body = tx
                .get(Kind::Items, &id)
                .map(|r| r.body.clone())
                .unwrap_or_default();
            (id, body)
        }
        None => (new_id(), defaults()),
    };
    let mut body = overlay(&base, el, &["ItemID"]);
    body.insert("ItemID".into(), id.clone().into());
    let mut errors = Vec::new();
    match text(&body, "Code") {
        None => errors.push("Item code must be specified.".into()),
        Some(c) if c.chars().count() > 30 => {
            errors.push("Item code must not exceed 30 characters.".into());
        }
        Some(c) if find_code(tx, c, Some(&id)).is_some() => errors.push(taken(c)),
        Some(_) => {}
    }
    if text(&body, "Name").is_some_and(|n| n.chars().count() > 50) {
        errors.push("Item name must not exceed 50 characters.".into());
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    tx.put(Kind::Items, &id, body, false);
    Ok(id)
}

fn taken(code: &str) -> String {
    format!("Price List Item with Code '{code}' already exists")
}

fn defaults() -> Map<String, Value> {
    let v = json!({
        "IsSold": true,
        "IsPurchased": true,
        "IsTrackedAsInventory": false,
        "PurchaseDetails": {},
        "SalesDetails": {},
    });
    v.as_object().cloned().unwrap_or_default()
}

/// The item with `code`, other than `except`.
pub(super) fn find_code(tx: &Tx<'_>, code: &str, except: Option<&str>) -> Option<String> {
    tx.t.lookup(Kind::Items, "Code", code)
        .find(|(id, rec)| {
            Some(id.as_str()) != except && rec.str("Code").is_some_and(|c| same(c, code))
        })
        .map(|(id, _)| id.clone())
}
