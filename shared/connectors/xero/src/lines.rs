//! Invoice lines as Xero takes them on writes: items named by `ItemCode`.
//!
//! Xero reads give a line's item as `Item.ItemID` (the mapping's reference, rewritten by the
//! engine to the item's Xero id), but writes identify items by `ItemCode`. The connector reads
//! the codes once per write call (`GET /Items`, unpaged) and rewrites each line.

use std::collections::HashMap;

use serde_json::Value;
use sync_core::error::RecordError;

/// Whether any invoice line names an item by `Item.ItemID`.
pub(crate) fn lines_name_items(invoice: &Value) -> bool {
    invoice
        .get("LineItems")
        .and_then(Value::as_array)
        .is_some_and(|lines| lines.iter().any(|l| l.pointer("/Item/ItemID").is_some()))
}

/// Turns each line's `Item.ItemID` into the `ItemCode` Xero takes on writes, and drops line ids
/// that are not Xero's (a Connec! id array).
///
/// # Errors
///
/// A line naming an item Xero does not have.
pub fn resolve_item_codes(
    invoice: &mut Value,
    codes: Option<&HashMap<String, String>>,
) -> Result<(), RecordError> {
    let Some(Value::Array(lines)) = invoice.get_mut("LineItems") else {
        return Ok(());
    };
    for (n, line) in lines.iter_mut().enumerate() {
        let Some(line) = line.as_object_mut() else {
            continue;
        };
        if line.get("LineItemID").is_some_and(|id| !id.is_string()) {
            line.remove("LineItemID");
        }
        let Some(item) = line.remove("Item") else {
            continue;
        };
        let Some(item_id) = item.get("ItemID").and_then(Value::as_str) else {
            continue;
        };
        match codes.and_then(|codes| codes.get(item_id)) {
            Some(code) => {
                line.insert("ItemCode".into(), Value::String(code.clone()));
            }
            None => {
                return Err(RecordError::new(
                    None,
                    format!("line {} names an item Xero does not have", n + 1),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn item_ids_become_item_codes() {
        let codes: HashMap<String, String> = [("item-1".to_owned(), "W1".to_owned())].into();
        let mut invoice = json!({ "LineItems": [
            { "Description": "a", "Item": { "ItemID": "item-1" }, "LineItemID": "li-1" },
            { "Description": "no item" },
            { "Description": "archived item", "Item": {} },
            { "Description": "connec line id", "LineItemID": [{ "id": "x" }] },
        ]});
        resolve_item_codes(&mut invoice, Some(&codes)).unwrap();
        assert_eq!(
            invoice["LineItems"],
            json!([
                { "Description": "a", "ItemCode": "W1", "LineItemID": "li-1" },
                { "Description": "no item" },
                { "Description": "archived item" },
                { "Description": "connec line id" },
            ])
        );
        let mut unknown = json!({ "LineItems": [{}, { "Item": { "ItemID": "nope" } }] });
        let error = resolve_item_codes(&mut unknown, Some(&codes)).unwrap_err();
        assert_eq!(error.message, "line 2 names an item Xero does not have");
        let mut none = json!({ "Type": "ACCREC" });
        assert!(resolve_item_codes(&mut none, None).is_ok());
    }
}
