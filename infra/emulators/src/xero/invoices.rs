//! Writing invoices: `Type` `ACCREC` or `ACCPAY`, a contact (by `ContactID`, `ContactNumber`
//! or `Name`; an unknown name creates the contact, as Xero does), lines and totals
//! ([`super::lines`]), `InvoiceNumber` assigned to sales invoices that have none and unique
//! among them, and Xero's status changes: DRAFT and SUBMITTED may become anything but PAID or
//! VOIDED, AUTHORISED may become VOIDED (not with payments), PAID only follows payments,
//! DELETED and VOIDED are final. Payments recompute `AmountPaid`, `AmountDue` and the status
//! ([`recompute_payments`]).

use serde_json::{Map, Value, json};

use super::clock::{date_string, day_of, ms_date, parse_date};
use super::contacts::{by_name, by_number, mark_party};
use super::fields::{Invalid, money, new_id, overlay, same, text};
use super::lines::{AmountTypes, lines};
use super::state::{Kind, Rec, Tx};
use super::write::Verb;

const NOT_FOUND: &str = "The document with the supplied id was not found for this endpoint.";
const NOT_MODIFIABLE: &str = "Invoice not of valid status for modification";
const HAS_PAYMENTS: &str =
    "This document cannot be edited as it has a payment or credit note allocated to it.";
const CONTACT_NEEDED: &str = "The Contact must contain at least 1 of the following elements to identify the contact: Name, ContactID, ContactNumber";

/// Who the invoice is for: an existing contact, or one to create by name.
enum Party {
    Existing(String),
    New(String),
}

/// Creates or updates one invoice; its id, or why not.
pub(super) fn write(
    tx: &mut Tx<'_>,
    verb: Verb,
    el: &Map<String, Value>,
    path_id: Option<&str>,
) -> Result<String, Invalid> {
    let given = path_id.or_else(|| text(el, "InvoiceID"));
    let by_number = text(el, "InvoiceNumber").and_then(|n| find_number(tx, n, None));
    let existing = match given {
        Some(id) => match tx.get(Kind::Invoices, id) {
            Some(_) if verb == Verb::Put => {
                return Err(vec![super::fields::put_existing("invoice", id)]);
            }
            Some(_) => Some(id.to_ascii_lowercase()),
            None => return Err(vec![NOT_FOUND.into()]),
        },
        None if verb == Verb::Post => by_number,
        None => None,
    };
    let old = existing
        .as_deref()
        .and_then(|id| tx.get(Kind::Invoices, id))
        .map(|r| r.body.clone());
    let id = existing.unwrap_or_else(new_id);
    let mut errors = Vec::new();
    let base = old.clone().unwrap_or_default();
    let mut body = overlay(
        &base,
        el,
        &["InvoiceID", "Contact", "LineItems", "Payments"],
    );
    body.insert("InvoiceID".into(), id.clone().into());

    let kind = text(&body, "Type").map(str::to_ascii_uppercase);
    match kind.as_deref() {
        None => errors.push("Invoice Type must be specified.".into()),
        Some("ACCREC" | "ACCPAY") => {}
        Some(other) => errors.push(format!("Invoice Type '{other}' is not supported.")),
    }
    let kind = kind.unwrap_or_default();
    if let Some(old) = &old
        && text(old, "Type").is_some_and(|t| t != kind)
    {
        errors.push("The Type of an existing invoice cannot be changed.".into());
    }
    body.insert("Type".into(), kind.clone().into());

    let old_status = old
        .as_ref()
        .and_then(|o| text(o, "Status"))
        .map(str::to_owned);
    let status = text(el, "Status")
        .map(str::to_ascii_uppercase)
        .or_else(|| old_status.clone())
        .unwrap_or_else(|| "DRAFT".into());
    let paid = old
        .as_ref()
        .and_then(|o| o.get("AmountPaid"))
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    check_status(old_status.as_deref(), &status, paid, &mut errors);
    body.insert("Status".into(), status.clone().into());
    if old_status
        .as_deref()
        .is_some_and(|s| s != "DRAFT" && s != "SUBMITTED")
        && el.contains_key("LineItems")
        && paid > 0.0
    {
        errors.push(HAS_PAYMENTS.into());
    }

    let party = party(tx, el.get("Contact"), old.as_ref(), &mut errors);

    let types = match text(&body, "LineAmountTypes") {
        None => AmountTypes::Exclusive,
        Some(s) => AmountTypes::parse(s).unwrap_or_else(|| {
            errors.push(format!("LineAmountTypes '{s}' is not valid."));
            AmountTypes::Exclusive
        }),
    };
    body.insert("LineAmountTypes".into(), types.name().into());
    let given_lines = match el.get("LineItems") {
        Some(Value::Array(l)) => l.clone(),
        Some(Value::Null) | None => base
            .get("LineItems")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        Some(_) => {
            errors.push("LineItems must be an array.".into());
            Vec::new()
        }
    };
    let (stored_lines, totals) = lines(tx, &given_lines, types, &kind, &mut errors);
    body.insert("LineItems".into(), Value::Array(stored_lines));
    body.insert("SubTotal".into(), totals.sub_total.into());
    body.insert("TotalTax".into(), totals.total_tax.into());
    body.insert("Total".into(), totals.total.into());
    if totals.total + 0.005 < paid {
        errors.push(HAS_PAYMENTS.into());
    }
    body.insert("AmountPaid".into(), money(paid).into());
    body.insert("AmountDue".into(), money(totals.total - paid).into());
    body.entry("AmountCredited").or_insert(0.0.into());

    for key in ["Date", "DueDate"] {
        match el.get(key).and_then(Value::as_str).map(str::trim) {
            Some(s) if !s.is_empty() => match parse_date(s) {
                Some(ms) => set_date(&mut body, key, ms),
                None => errors.push(format!("{key} '{s}' is not a valid date.")),
            },
            _ if key == "Date" && old.is_none() => set_date(&mut body, key, day_of(tx.now_ms())),
            _ => {}
        }
    }

    number_of(tx, &id, &kind, &mut body, &mut errors);
    if text(&body, "CurrencyCode").is_none() {
        body.insert(
            "CurrencyCode".into(),
            tx.t.config.base_currency.clone().into(),
        );
    }
    body.entry("CurrencyRate").or_insert(1.0.into());
    for key in ["Payments", "CreditNotes", "Prepayments", "Overpayments"] {
        body.entry(key).or_insert_with(|| Value::Array(Vec::new()));
    }
    body.entry("HasAttachments").or_insert(false.into());
    body.insert("HasErrors".into(), false.into());

    if !errors.is_empty() {
        return Err(errors);
    }
    let contact_id = match party {
        Some(Party::Existing(cid)) => cid,
        Some(Party::New(name)) => {
            let mut contact = Map::new();
            contact.insert("Name".into(), name.into());
            super::contacts::write(tx, Verb::Put, &contact, None)?
        }
        None => String::new(),
    };
    let name = tx
        .get(Kind::Contacts, &contact_id)
        .and_then(|c| c.str("Name"))
        .unwrap_or_default()
        .to_owned();
    body.insert(
        "Contact".into(),
        json!({ "ContactID": contact_id, "Name": name }),
    );
    tx.put(Kind::Invoices, &id, body, false);
    mark_party(tx, &contact_id, &kind);
    Ok(id)
}

fn set_date(body: &mut Map<String, Value>, key: &str, ms: i64) {
    body.insert(key.into(), ms_date(ms).into());
    body.insert(format!("{key}String"), date_string(ms).into());
}

/// Xero's status changes (see the [module docs](self)).
fn check_status(old: Option<&str>, new: &str, paid: f64, errors: &mut Vec<String>) {
    const ALL: [&str; 6] = [
        "DRAFT",
        "SUBMITTED",
        "AUTHORISED",
        "PAID",
        "DELETED",
        "VOIDED",
    ];
    if !ALL.contains(&new) {
        errors.push(format!("Invoice Status '{new}' is not valid."));
        return;
    }
    let ok = match (old, new) {
        (None, "DRAFT" | "SUBMITTED" | "AUTHORISED") => true,
        (None, _) => {
            errors.push("Invoice not of valid status for creation".into());
            return;
        }
        // Deleted and voided invoices cannot be edited at all.
        (Some("DELETED" | "VOIDED"), _) => false,
        (Some(o), n) if o == n => true,
        (Some("DRAFT" | "SUBMITTED"), "DRAFT" | "SUBMITTED" | "AUTHORISED" | "DELETED") => true,
        (Some("AUTHORISED" | "PAID"), "VOIDED") if paid > 0.0 => {
            errors.push(HAS_PAYMENTS.into());
            return;
        }
        (Some("AUTHORISED"), "VOIDED") => true,
        _ => false,
    };
    if !ok {
        errors.push(NOT_MODIFIABLE.into());
    }
}

/// The contact the invoice names (or keeps).
fn party(
    tx: &Tx<'_>,
    given: Option<&Value>,
    old: Option<&Map<String, Value>>,
    errors: &mut Vec<String>,
) -> Option<Party> {
    let Some(c) = given.and_then(Value::as_object) else {
        return match old
            .and_then(|o| o.get("Contact"))
            .and_then(|c| c.get("ContactID"))
        {
            Some(Value::String(id)) => Some(Party::Existing(id.clone())),
            _ => {
                errors.push(CONTACT_NEEDED.into());
                None
            }
        };
    };
    if let Some(id) = text(c, "ContactID") {
        return match tx.get(Kind::Contacts, id) {
            Some(_) => Some(Party::Existing(id.to_ascii_lowercase())),
            None => {
                errors.push(format!(
                    "The contact with ContactID {id} could not be found."
                ));
                None
            }
        };
    }
    if let Some(n) = text(c, "ContactNumber") {
        return match by_number(tx, n) {
            Some(id) => Some(Party::Existing(id)),
            None => {
                errors.push(format!(
                    "The contact with ContactNumber {n} could not be found."
                ));
                None
            }
        };
    }
    match text(c, "Name") {
        Some(name) => Some(match by_name(tx, name) {
            Some(id) => Party::Existing(id),
            None => Party::New(name.to_owned()),
        }),
        None => {
            errors.push(CONTACT_NEEDED.into());
            None
        }
    }
}

/// Assigns or checks the `InvoiceNumber`: sales invoices get the next `INV-0001` when they
/// have none, and their numbers are unique.
fn number_of(
    tx: &mut Tx<'_>,
    id: &str,
    kind: &str,
    body: &mut Map<String, Value>,
    errors: &mut Vec<String>,
) {
    if kind != "ACCREC" {
        return;
    }
    match text(body, "InvoiceNumber").map(str::to_owned) {
        Some(n) => {
            if find_number(tx, &n, Some(id)).is_some() {
                errors.push("Invoice # must be unique.".into());
            }
        }
        None => {
            let mut n = tx.next_invoice_number();
            while find_number(tx, &n, Some(id)).is_some() {
                n = tx.next_invoice_number();
            }
            body.insert("InvoiceNumber".into(), n.into());
        }
    }
}

/// The sales invoice numbered `number`, other than `except`.
fn find_number(tx: &Tx<'_>, number: &str, except: Option<&str>) -> Option<String> {
    tx.t.lookup(Kind::Invoices, "InvoiceNumber", number)
        .find(|(id, rec)| {
            Some(id.as_str()) != except
                && rec.str("Type") == Some("ACCREC")
                && rec.str("InvoiceNumber").is_some_and(|n| same(n, number))
        })
        .map(|(id, _)| id.clone())
}

/// Recomputes an invoice's `AmountPaid`, `AmountDue`, `Payments` and status from its live
/// payments: PAID when nothing is due, AUTHORISED again when a payment is deleted.
pub(super) fn recompute_payments(tx: &mut Tx<'_>, invoice_id: &str) {
    let Some(inv) = tx.get(Kind::Invoices, invoice_id) else {
        return;
    };
    let mut body = inv.body.clone();
    let mut paid = 0.0;
    let mut listed = Vec::new();
    let mut last_date = None;
    // The invoice's payments, in creation order.
    let mut payments: Vec<&Rec> =
        tx.t.lookup(Kind::Payments, "Invoice", invoice_id)
            .map(|(_, p)| p)
            .collect();
    payments.sort_by_key(|p| p.seq);
    for p in payments {
        let of_invoice = p
            .body
            .get("Invoice")
            .and_then(|i| i.get("InvoiceID"))
            .and_then(Value::as_str)
            .is_some_and(|i| i.eq_ignore_ascii_case(invoice_id));
        if !of_invoice || p.str("Status") == Some("DELETED") {
            continue;
        }
        let amount = p.body.get("Amount").and_then(Value::as_f64).unwrap_or(0.0);
        paid += amount;
        last_date = p.body.get("Date").cloned();
        listed.push(json!({
            "PaymentID": p.body.get("PaymentID"),
            "Date": p.body.get("Date"),
            "Amount": amount,
            "Reference": p.body.get("Reference").cloned().unwrap_or(Value::Null),
            "CurrencyRate": 1.0,
            "HasAccount": true,
            "HasValidationErrors": false,
        }));
    }
    let total = body.get("Total").and_then(Value::as_f64).unwrap_or(0.0);
    let due = money(total - paid);
    let status = text(&body, "Status").unwrap_or("DRAFT").to_owned();
    let new_status = match status.as_str() {
        "AUTHORISED" if due <= 0.0 => "PAID",
        "PAID" if due > 0.0 => "AUTHORISED",
        s => s,
    };
    body.insert("AmountPaid".into(), money(paid).into());
    body.insert("AmountDue".into(), due.into());
    body.insert("Payments".into(), Value::Array(listed));
    body.insert("Status".into(), new_status.into());
    match (new_status, last_date) {
        ("PAID", Some(d)) => {
            body.insert("FullyPaidOnDate".into(), d);
        }
        _ => {
            body.remove("FullyPaidOnDate");
        }
    }
    tx.put(Kind::Invoices, invoice_id, body, false);
}

/// The invoice a payment names (`InvoiceID` or `InvoiceNumber`).
pub(super) fn referenced(tx: &Tx<'_>, invoice: &Map<String, Value>) -> Option<String> {
    if let Some(id) = text(invoice, "InvoiceID") {
        return tx.get(Kind::Invoices, id).map(|_| id.to_ascii_lowercase());
    }
    let n = text(invoice, "InvoiceNumber")?;
    tx.t.lookup(Kind::Invoices, "InvoiceNumber", n)
        .find(|(_, r)| r.str("InvoiceNumber").is_some_and(|x| same(x, n)))
        .map(|(id, _)| id.clone())
}
