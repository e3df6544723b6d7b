//! Invoice lines and totals: each line's amount and tax (Exclusive, Inclusive or NoTax
//! amounts, the tax rates of a New Zealand organisation), item codes resolved against the
//! organisation's items, and the invoice's `SubTotal`, `TotalTax` and `Total`.

use serde_json::{Map, Value, json};

use super::fields::{money, new_id, number, quantity, text};
use super::items::find_code;
use super::state::{Kind, Tx};

/// The tax rates the emulator knows (those of Xero's NZ demo organisation), in percent.
const TAX_RATES: [(&str, f64); 8] = [
    ("NONE", 0.0),
    ("EXEMPTINPUT", 0.0),
    ("EXEMPTOUTPUT", 0.0),
    ("ZERORATED", 0.0),
    ("ZERORATEDOUTPUT", 0.0),
    ("GSTONIMPORTS", 0.0),
    ("INPUT2", 15.0),
    ("OUTPUT2", 15.0),
];

/// `Exclusive`, `Inclusive` or `NoTax`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AmountTypes {
    Exclusive,
    Inclusive,
    NoTax,
}

impl AmountTypes {
    pub(super) fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "exclusive" => Some(Self::Exclusive),
            "inclusive" => Some(Self::Inclusive),
            "notax" => Some(Self::NoTax),
            _ => None,
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Exclusive => "Exclusive",
            Self::Inclusive => "Inclusive",
            Self::NoTax => "NoTax",
        }
    }
}

/// The invoice's totals.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct Totals {
    pub(super) sub_total: f64,
    pub(super) total_tax: f64,
    pub(super) total: f64,
}

/// The lines as stored (ids assigned, amounts and tax computed) and their totals, or the
/// validation messages.
pub(super) fn lines(
    tx: &Tx<'_>,
    given: &[Value],
    types: AmountTypes,
    invoice_type: &str,
    errors: &mut Vec<String>,
) -> (Vec<Value>, Totals) {
    let mut out = Vec::new();
    let mut totals = Totals::default();
    for line in given {
        let Some(line) = line.as_object() else {
            errors.push("Line items must be objects.".into());
            continue;
        };
        let mut l = line.clone();
        l.remove("ValidationErrors");
        if text(&l, "LineItemID").is_none() {
            l.insert("LineItemID".into(), new_id().into());
        }
        if let Some(code) = text(line, "ItemCode") {
            match find_code(tx, code, None).and_then(|id| Some((tx.get(Kind::Items, &id)?, id))) {
                Some((item, id)) => {
                    fill_from_item(&mut l, &item.body, invoice_type);
                    // As Xero answers: the line names its item by id too (`LineItemItem`).
                    l.insert(
                        "Item".into(),
                        json!({ "ItemID": id, "Code": code, "Name": item.body.get("Name") }),
                    );
                }
                None => errors.push(format!("Item code '{code}' is not valid.")),
            }
        }
        let qty = read(&l, "Quantity", errors).unwrap_or(1.0);
        let unit = read(&l, "UnitAmount", errors).unwrap_or(0.0);
        let discount = read(&l, "DiscountRate", errors).unwrap_or(0.0);
        let tax_type = text(&l, "TaxType").unwrap_or("NONE").to_ascii_uppercase();
        let rate = match TAX_RATES.iter().find(|(t, _)| *t == tax_type) {
            Some((_, r)) if types != AmountTypes::NoTax => *r,
            Some(_) => 0.0,
            None => {
                errors.push(format!(
                    "The TaxType code '{tax_type}' does not exist or cannot be used with this type of transaction."
                ));
                0.0
            }
        };
        let line_amount = money(qty * unit * (1.0 - discount / 100.0));
        let tax = match read(&l, "TaxAmount", errors) {
            Some(t) if types != AmountTypes::NoTax => money(t),
            _ => match types {
                AmountTypes::Exclusive => money(line_amount * rate / 100.0),
                AmountTypes::Inclusive => money(line_amount * rate / (100.0 + rate)),
                AmountTypes::NoTax => 0.0,
            },
        };
        l.insert("Quantity".into(), quantity(qty).into());
        l.insert("UnitAmount".into(), unit.into());
        l.insert("TaxType".into(), tax_type.into());
        l.insert("TaxAmount".into(), tax.into());
        l.insert("LineAmount".into(), line_amount.into());
        l.entry("Tracking")
            .or_insert_with(|| Value::Array(Vec::new()));
        totals.total_tax += tax;
        totals.sub_total += match types {
            AmountTypes::Inclusive => line_amount - tax,
            _ => line_amount,
        };
        out.push(Value::Object(l));
    }
    totals.sub_total = money(totals.sub_total);
    totals.total_tax = money(totals.total_tax);
    totals.total = money(totals.sub_total + totals.total_tax);
    (out, totals)
}

fn read(l: &Map<String, Value>, key: &str, errors: &mut Vec<String>) -> Option<f64> {
    number(l, key).unwrap_or_else(|e| {
        errors.push(e);
        None
    })
}

/// What a line naming an item takes from it when the line does not say: description, unit
/// price and account (sales details for `ACCREC`, purchase details for `ACCPAY`).
fn fill_from_item(l: &mut Map<String, Value>, item: &Map<String, Value>, invoice_type: &str) {
    let (details, description) = if invoice_type == "ACCPAY" {
        ("PurchaseDetails", "PurchaseDescription")
    } else {
        ("SalesDetails", "Description")
    };
    if text(l, "Description").is_none()
        && let Some(d) = text(item, description).or_else(|| text(item, "Description"))
    {
        l.insert("Description".into(), d.into());
    }
    let Some(details) = item.get(details).and_then(Value::as_object) else {
        return;
    };
    if l.get("UnitAmount").is_none_or(Value::is_null)
        && let Some(p) = details.get("UnitPrice").filter(|p| !p.is_null())
    {
        l.insert("UnitAmount".into(), p.clone());
    }
    for key in ["AccountCode", "TaxType"] {
        if text(l, key).is_none()
            && let Some(v) = text(details, key)
        {
            l.insert(key.into(), v.into());
        }
    }
}
