//! Payments against invoices: created only (`PUT /Payments`, `POST /Payments` with one
//! payment), on an AUTHORISED invoice, from a bank account of the organisation (`Account`
//! by `Code` or `AccountID`), for a positive amount not above what is due. The invoice's
//! amounts and status follow ([`super::invoices::recompute_payments`]). `POST
//! /Payments/{id}` with `Status: DELETED` deletes one, and the invoice's amounts follow back.

use serde_json::{Map, Value, json};

use super::clock::{date_string, day_of, ms_date, parse_date};
use super::fields::{Invalid, money, new_id, number, text};
use super::invoices::{recompute_payments, referenced};
use super::state::{Kind, Tx};

/// Creates one payment; its id, or why not.
pub(super) fn create(tx: &mut Tx<'_>, el: &Map<String, Value>) -> Result<String, Invalid> {
    let mut errors = Vec::new();
    if text(el, "PaymentID").is_some_and(|id| tx.get(Kind::Payments, id).is_some()) {
        return Err(vec!["A payment with this PaymentID already exists.".into()]);
    }
    let invoice = el.get("Invoice").and_then(Value::as_object);
    let invoice_id = match invoice {
        None => {
            errors.push(
                "An Invoice, CreditNote, Prepayment or Overpayment must be specified.".into(),
            );
            None
        }
        Some(i) => match referenced(tx, i) {
            Some(id) => Some(id),
            None => {
                errors.push(
                    "The document with the supplied id was not found for this endpoint.".into(),
                );
                None
            }
        },
    };
    let inv = invoice_id
        .as_deref()
        .and_then(|id| tx.get(Kind::Invoices, id))
        .map(|r| r.body.clone());
    let due = inv
        .as_ref()
        .and_then(|i| i.get("AmountDue"))
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    if let Some(i) = &inv
        && text(i, "Status") != Some("AUTHORISED")
    {
        errors.push("Payments can only be made against Authorised documents.".into());
    }
    let account = match el.get("Account") {
        Some(a) if a.is_object() => match tx.t.account(a) {
            Some(acc) => Some(acc.clone()),
            None => {
                errors.push("Account could not be found".into());
                None
            }
        },
        _ => {
            errors.push("Account must be specified.".into());
            None
        }
    };
    let amount = match number(el, "Amount") {
        Ok(Some(a)) if a > 0.0 => money(a),
        Ok(_) => {
            errors.push("Payment amount must be greater than zero.".into());
            0.0
        }
        Err(e) => {
            errors.push(e);
            0.0
        }
    };
    if inv.is_some() && amount > due + 0.005 {
        errors.push("Payment amount exceeds the amount outstanding on this document".into());
    }
    let date = match text(el, "Date") {
        Some(s) => parse_date(s).unwrap_or_else(|| {
            errors.push(format!("Date '{s}' is not a valid date."));
            0
        }),
        None => day_of(tx.now_ms()),
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let (Some(inv), Some(invoice_id), Some(account)) = (inv, invoice_id, account) else {
        return Err(vec!["The payment is incomplete.".into()]);
    };
    let id = text(el, "PaymentID")
        .map(str::to_ascii_lowercase)
        .unwrap_or_else(new_id);
    let kind = text(&inv, "Type").unwrap_or("ACCREC");
    let payment_type = if kind == "ACCPAY" {
        "ACCPAYPAYMENT"
    } else {
        "ACCRECPAYMENT"
    };
    let body = json!({
        "PaymentID": id,
        "Date": ms_date(date),
        "DateString": date_string(date),
        "Amount": amount,
        "BankAmount": amount,
        "CurrencyRate": 1.0,
        "Reference": el.get("Reference").cloned().unwrap_or(Value::Null),
        "IsReconciled": el.get("IsReconciled").and_then(Value::as_bool).unwrap_or(false),
        "Status": "AUTHORISED",
        "PaymentType": payment_type,
        "HasAccount": true,
        "HasValidationErrors": false,
        "Account": { "AccountID": account["AccountID"], "Code": account["Code"] },
        "Invoice": {
            "InvoiceID": invoice_id,
            "InvoiceNumber": inv.get("InvoiceNumber").cloned().unwrap_or(Value::Null),
            "Type": kind,
            "Contact": inv.get("Contact").cloned().unwrap_or(Value::Null),
        },
    });
    tx.put(
        Kind::Payments,
        &id,
        body.as_object().cloned().unwrap_or_default(),
        false,
    );
    recompute_payments(tx, &invoice_id);
    Ok(id)
}

/// Deletes a payment (`{"Status": "DELETED"}`); its id, or why not.
pub(super) fn delete(
    tx: &mut Tx<'_>,
    id: &str,
    el: &Map<String, Value>,
) -> Result<String, Invalid> {
    let Some(rec) = tx.get(Kind::Payments, id) else {
        return Err(vec![
            "The document with the supplied id was not found for this endpoint.".into(),
        ]);
    };
    if !text(el, "Status").is_some_and(|s| s.eq_ignore_ascii_case("DELETED")) {
        return Err(vec![
            "Payments can only be deleted: send Status DELETED.".into(),
        ]);
    }
    if rec.str("Status") == Some("DELETED") {
        return Err(vec!["This payment has already been deleted.".into()]);
    }
    let mut body = rec.body.clone();
    let invoice_id = body
        .get("Invoice")
        .and_then(|i| i.get("InvoiceID"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    body.insert("Status".into(), "DELETED".into());
    let id = id.to_ascii_lowercase();
    tx.put(Kind::Payments, &id, body, false);
    if let Some(inv) = invoice_id {
        recompute_payments(tx, &inv);
    }
    Ok(id)
}
