//! Amounts as Connec! completes them: a price (`{net_amount, tax_rate, tax_amount,
//! total_amount}`) from whichever of its parts the writer gave, a line's `total_price` from its
//! `unit_price` and `quantity`, and a document's `amount` as the sum of its lines.
//!
//! Pure functions over JSON objects, so the rules can be read and tested in one place:
//!
//! - `tax_rate` is a percentage: `tax = net × rate / 100`, `total = net + tax`.
//! - Given a total and a rate but no net (a tax-inclusive price): `net = total / (1 + rate/100)`,
//!   `tax = total − net`. Given two amounts, the third follows and the rate is derived
//!   (`tax / net × 100`, 4 decimals) when missing. A net alone has no tax (`tax 0`, no rate).
//! - Only missing parts are filled: what the writer sent is kept as sent.
//! - `total_price = unit_price × quantity` (quantity 1 when absent), always recomputed from
//!   the unit price; a line with only a `total_price` gets its unit price by division.
//! - Rounding: half away from zero, unit amounts (`unit_price`, an item's prices) to 4 decimals
//!   as accounting apps keep unit amounts (Xero's `unitdp=4`), line totals and document
//!   amounts to 2. Arithmetic is decimal (10⁻⁸ units), so `0.1 + 0.2` is `0.3`.

use serde_json::{Map, Value};

/// Decimals of unit amounts.
pub(super) const UNIT_DP: u32 = 4;
/// Decimals of line totals and document amounts.
pub(super) const TOTAL_DP: u32 = 2;

const SCALE: i128 = 100_000_000;
const SCALE_DP: u32 = 8;

/// A decimal amount: an integer count of 10⁻⁸. Operations that would overflow give `None`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Dec(i128);

/// `n / d` rounded half away from zero (`d != 0`).
fn round_div(n: i128, d: i128) -> i128 {
    let (q, r) = (n / d, n % d);
    if 2 * r.abs() >= d.abs() {
        q + n.signum() * d.signum()
    } else {
        q
    }
}

impl Dec {
    pub(super) const ZERO: Dec = Dec(0);

    fn int(i: i64) -> Self {
        Dec(i128::from(i) * SCALE)
    }

    /// A JSON number or numeric string.
    pub(super) fn from_value(v: &Value) -> Option<Self> {
        let f = match v {
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    return Some(Self::int(i));
                }
                n.as_f64()?
            }
            Value::String(s) => s.trim().parse::<f64>().ok()?,
            _ => return None,
        };
        let scaled = (f * SCALE as f64).round();
        (scaled.is_finite() && scaled.abs() < 1e30).then_some(Dec(scaled as i128))
    }

    /// As a JSON number (shortest decimal form).
    pub(super) fn to_value(self) -> Value {
        if self.0 % SCALE == 0
            && let Ok(i) = i64::try_from(self.0 / SCALE)
        {
            return Value::from(i);
        }
        serde_json::Number::from_f64(self.0 as f64 / SCALE as f64)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }

    pub(super) fn add(self, o: Self) -> Option<Self> {
        self.0.checked_add(o.0).map(Dec)
    }
    pub(super) fn sub(self, o: Self) -> Option<Self> {
        self.0.checked_sub(o.0).map(Dec)
    }
    fn mul(self, o: Self) -> Option<Self> {
        self.0.checked_mul(o.0).map(|p| Dec(round_div(p, SCALE)))
    }
    fn div(self, o: Self) -> Option<Self> {
        if o.0 == 0 {
            return None;
        }
        self.0.checked_mul(SCALE).map(|p| Dec(round_div(p, o.0)))
    }
    /// Rounded to `dp` decimals.
    pub(super) fn round(self, dp: u32) -> Self {
        let unit = 10i128.pow(SCALE_DP - dp.min(SCALE_DP));
        Dec(round_div(self.0, unit) * unit)
    }
    pub(super) fn is_zero(self) -> bool {
        self.0 == 0
    }
}

/// The parts of a price; `None` where unknown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Price {
    pub(super) net: Option<Dec>,
    pub(super) rate: Option<Dec>,
    pub(super) tax: Option<Dec>,
    pub(super) total: Option<Dec>,
}

const NET: &str = "net_amount";
const RATE: &str = "tax_rate";
const TAX: &str = "tax_amount";
const TOTAL: &str = "total_amount";
/// The amounts of a price (its rate aside).
const AMOUNTS: [&str; 3] = [NET, TAX, TOTAL];

fn percent(part: Dec, of: Dec) -> Option<Dec> {
    part.mul(Dec::int(100))?.div(of).map(|r| r.round(UNIT_DP))
}

/// Completes a price from what it holds (module rules), amounts rounded to `dp` decimals.
/// Known parts are never changed.
pub(super) fn complete_price(p: Price, dp: u32) -> Price {
    let hundred = Dec::int(100);
    let mut out = p;
    match (p.net, p.rate, p.tax, p.total) {
        (Some(net), Some(rate), tax, total) => {
            let tax = tax.or_else(|| net.mul(rate)?.div(hundred).map(|t| t.round(dp)));
            out.tax = tax;
            out.total = total.or_else(|| net.add(tax?));
        }
        (Some(net), None, Some(tax), total) => {
            out.total = total.or_else(|| net.add(tax));
            out.rate = percent(tax, net);
        }
        (Some(net), None, None, Some(total)) => {
            out.tax = total.sub(net);
            out.rate = out.tax.and_then(|t| percent(t, net));
        }
        (Some(net), None, None, None) => {
            out.tax = Some(Dec::ZERO);
            out.total = Some(net);
        }
        (None, Some(rate), tax, Some(total)) => {
            let net = tax.and_then(|t| total.sub(t)).or_else(|| {
                let factor = hundred.add(rate)?.div(hundred)?;
                total.div(factor).map(|n| n.round(dp))
            });
            out.net = net;
            out.tax = tax.or_else(|| total.sub(net?));
        }
        (None, None, Some(tax), Some(total)) => {
            out.net = total.sub(tax);
            out.rate = out.net.and_then(|n| percent(tax, n));
        }
        (None, None, None, Some(total)) => {
            out.net = Some(total);
            out.tax = Some(Dec::ZERO);
        }
        (None, Some(rate), Some(tax), None) if !rate.is_zero() => {
            out.net = tax
                .mul(hundred)
                .and_then(|x| x.div(rate))
                .map(|n| n.round(dp));
            out.total = out.net.and_then(|n| n.add(tax));
        }
        _ => {}
    }
    out
}

/// The price held by a JSON object.
pub(super) fn read_price(m: &Map<String, Value>) -> Price {
    let get = |k: &str| m.get(k).and_then(Dec::from_value);
    Price {
        net: get(NET),
        rate: get(RATE),
        tax: get(TAX),
        total: get(TOTAL),
    }
}

/// Completes the price object `m` in place (only missing keys are written); returns it.
pub(super) fn complete_price_obj(m: &mut Map<String, Value>, dp: u32) -> Price {
    complete_price_obj_rated(m, dp, None)
}

/// [`complete_price_obj`] computing with `fallback_rate` when `m` has no rate of its own (the
/// rate itself is then not written).
fn complete_price_obj_rated(
    m: &mut Map<String, Value>,
    dp: u32,
    fallback_rate: Option<Dec>,
) -> Price {
    let mut given = read_price(m);
    // A borrowed rate counts as known, so it is not written.
    if given.rate.is_none() {
        given.rate = fallback_rate;
    }
    let done = complete_price(given, dp);
    for (k, was, now) in [
        (NET, given.net, done.net),
        (RATE, given.rate, done.rate),
        (TAX, given.tax, done.tax),
        (TOTAL, given.total, done.total),
    ] {
        if let (None, Some(v)) = (was, now) {
            m.insert(k.into(), v.to_value());
        }
    }
    done
}

fn has_amount(m: &Map<String, Value>) -> bool {
    AMOUNTS
        .iter()
        .any(|k| m.get(*k).is_some_and(|v| !v.is_null()))
}

/// Before `patch` is merged into the stored price `stored`: drops the stored parts that were
/// derived from what the patch replaces, so they are derived again. A patch with an amount
/// makes the amounts it sends the new basis (the stored rate stays); a patch with only a rate
/// keeps the stored net and drops its tax and total.
pub(super) fn reset_price(stored: &mut Map<String, Value>, patch: &Map<String, Value>) {
    if has_amount(patch) {
        for k in AMOUNTS {
            if !patch.contains_key(k) {
                stored.remove(k);
            }
        }
    } else if patch.contains_key(RATE) {
        stored.remove(TAX);
        stored.remove(TOTAL);
    }
}

/// [`reset_price`] for a line: a new `unit_price` resets the unit price; a new `total_price`
/// without unit amounts makes the total the basis (the stored unit amounts go).
pub(super) fn reset_line(stored: &mut Map<String, Value>, patch: &Map<String, Value>) {
    let unit_patch = patch.get("unit_price").and_then(Value::as_object);
    if let (Some(p), Some(Value::Object(s))) = (unit_patch, stored.get_mut("unit_price")) {
        reset_price(s, p);
    }
    if let Some(p) = patch.get("total_price").and_then(Value::as_object)
        && has_amount(p)
        && !unit_patch.is_some_and(has_amount)
    {
        if let Some(Value::Object(s)) = stored.get_mut("unit_price") {
            for k in AMOUNTS {
                s.remove(k);
            }
        }
        if let Some(Value::Object(s)) = stored.get_mut("total_price") {
            reset_price(s, p);
        }
    }
}

fn object<'a>(m: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let slot = m.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    match slot {
        Value::Object(o) => o,
        _ => unreachable!("made an object above"),
    }
}

/// Completes one invoice-style line in place: its `unit_price` (4 decimals) and its
/// `total_price` (2 decimals, recomputed as unit × quantity), or, for a line with only a
/// `total_price`, the unit price by division.
pub(super) fn complete_line(line: &mut Map<String, Value>) {
    let qty = line
        .get("quantity")
        .and_then(Dec::from_value)
        .unwrap_or(Dec::int(1));
    let unit_given = line
        .get("unit_price")
        .and_then(Value::as_object)
        .is_some_and(has_amount);
    if unit_given {
        let u = complete_price_obj(object(line, "unit_price"), UNIT_DP);
        let (Some(net), Some(tax)) = (u.net, u.tax) else {
            return;
        };
        let (Some(tn), Some(tt)) = (net.mul(qty), tax.mul(qty)) else {
            return;
        };
        let (tn, tt) = (tn.round(TOTAL_DP), tt.round(TOTAL_DP));
        let Some(total) = tn.add(tt) else { return };
        let t = object(line, "total_price");
        t.insert(NET.into(), tn.to_value());
        t.insert(TAX.into(), tt.to_value());
        t.insert(TOTAL.into(), total.to_value());
    } else if line
        .get("total_price")
        .and_then(Value::as_object)
        .is_some_and(has_amount)
    {
        let unit_rate = line
            .get("unit_price")
            .and_then(Value::as_object)
            .and_then(|u| u.get(RATE))
            .and_then(Dec::from_value);
        let t = complete_price_obj_rated(object(line, "total_price"), TOTAL_DP, unit_rate);
        let per_unit = |x: Option<Dec>| x.and_then(|x| x.div(qty)).map(|x| x.round(UNIT_DP));
        let derived = Price {
            net: per_unit(t.net),
            rate: t.rate,
            tax: per_unit(t.tax),
            total: None,
        };
        let derived = Price {
            total: derived.net.zip(derived.tax).and_then(|(n, x)| n.add(x)),
            ..derived
        };
        let u = object(line, "unit_price");
        for (k, v) in [
            (NET, derived.net),
            (RATE, derived.rate),
            (TAX, derived.tax),
            (TOTAL, derived.total),
        ] {
            if let Some(v) = v {
                u.entry(k).or_insert_with(|| v.to_value());
            }
        }
    }
}

/// The sum of the lines' `total_price`s (`net`, `tax`, `total`), `None` when no line has one.
pub(super) fn sum_lines<'a>(lines: impl IntoIterator<Item = &'a Value>) -> Option<[Dec; 3]> {
    let mut sum: Option<[Dec; 3]> = None;
    for l in lines {
        let Some(t) = l.get("total_price").and_then(Value::as_object) else {
            continue;
        };
        let p = read_price(t);
        let (Some(n), Some(x), Some(tot)) = (p.net, p.tax, p.total) else {
            continue;
        };
        let s = sum.get_or_insert([Dec::ZERO; 3]);
        for (acc, v) in s.iter_mut().zip([n, x, tot]) {
            *acc = acc.add(v)?;
        }
    }
    sum.map(|s| s.map(|d| d.round(TOTAL_DP)))
}

/// Writes `sum` as the `amount` object of `rec` (`{net_amount, tax_amount, total_amount}`),
/// keeping its other keys; its currency is the record's when it has none.
pub(super) fn set_amount(rec: &mut Map<String, Value>, sum: [Dec; 3]) {
    let currency = rec.get("currency").cloned();
    let a = object(rec, "amount");
    for (k, v) in AMOUNTS.iter().zip(sum) {
        a.insert((*k).into(), v.to_value());
    }
    if let Some(c) = currency.filter(|c| !c.is_null()) {
        a.entry("currency").or_insert(c);
    }
}

#[cfg(test)]
#[path = "totals_tests.rs"]
mod tests;
