//! Table tests of the totals rules.

use super::*;
use serde_json::json;

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

#[test]
fn prices_complete_from_what_is_given() {
    // (given, dp, expected)
    let table = [
        // net + rate: tax and total follow.
        (
            json!({"net_amount": 100, "tax_rate": 15}),
            2,
            json!({"net_amount": 100, "tax_rate": 15, "tax_amount": 15, "total_amount": 115}),
        ),
        // Rounded half away from zero, at the requested decimals.
        (
            json!({"net_amount": 10.05, "tax_rate": 10}),
            2,
            json!({"net_amount": 10.05, "tax_rate": 10, "tax_amount": 1.01, "total_amount": 11.06}),
        ),
        (
            json!({"net_amount": 10.05, "tax_rate": 10}),
            4,
            json!({"net_amount": 10.05, "tax_rate": 10, "tax_amount": 1.005, "total_amount": 11.055}),
        ),
        // Tax-inclusive: total + rate gives the net.
        (
            json!({"total_amount": 115, "tax_rate": 15}),
            2,
            json!({"net_amount": 100, "tax_rate": 15, "tax_amount": 15, "total_amount": 115}),
        ),
        (
            json!({"total_amount": 10, "tax_rate": 20}),
            2,
            json!({"net_amount": 8.33, "tax_rate": 20, "tax_amount": 1.67, "total_amount": 10}),
        ),
        // Two amounts: the third and the rate follow.
        (
            json!({"net_amount": 50, "tax_amount": 5}),
            2,
            json!({"net_amount": 50, "tax_rate": 10, "tax_amount": 5, "total_amount": 55}),
        ),
        (
            json!({"net_amount": 50, "total_amount": 56}),
            2,
            json!({"net_amount": 50, "tax_rate": 12, "tax_amount": 6, "total_amount": 56}),
        ),
        (
            json!({"tax_amount": 2, "total_amount": 12}),
            2,
            json!({"net_amount": 10, "tax_rate": 20, "tax_amount": 2, "total_amount": 12}),
        ),
        // A net alone carries no tax and gets no rate.
        (
            json!({"net_amount": "7.5"}),
            2,
            json!({"net_amount": "7.5", "tax_amount": 0, "total_amount": 7.5}),
        ),
        // A total alone: no tax.
        (
            json!({"total_amount": 9}),
            2,
            json!({"net_amount": 9, "tax_amount": 0, "total_amount": 9}),
        ),
        // Given values are kept, even when they disagree with the rate.
        (
            json!({"net_amount": 10, "tax_rate": 10, "total_amount": 12}),
            2,
            json!({"net_amount": 10, "tax_rate": 10, "tax_amount": 1, "total_amount": 12}),
        ),
        // Decimal arithmetic.
        (
            json!({"net_amount": 0.1, "tax_amount": 0.2}),
            2,
            json!({"net_amount": 0.1, "tax_rate": 200, "tax_amount": 0.2, "total_amount": 0.3}),
        ),
        // Nothing to start from: unchanged.
        (json!({"tax_rate": 15}), 2, json!({"tax_rate": 15})),
        (json!({"currency": "USD"}), 2, json!({"currency": "USD"})),
    ];
    for (given, dp, expected) in table {
        let mut m = obj(given.clone());
        complete_price_obj(&mut m, dp);
        assert_eq!(Value::Object(m), expected, "completing {given} at {dp} dp");
    }
}

#[test]
fn lines_complete_unit_and_total_prices() {
    let table = [
        (
            json!({"quantity": 3, "unit_price": {"net_amount": 12.5, "tax_rate": 10}}),
            json!({"quantity": 3,
                "unit_price": {"net_amount": 12.5, "tax_rate": 10, "tax_amount": 1.25, "total_amount": 13.75},
                "total_price": {"net_amount": 37.5, "tax_amount": 3.75, "total_amount": 41.25}}),
        ),
        // Quantity 1 when absent; unit amounts keep 4 decimals, totals 2.
        (
            json!({"unit_price": {"net_amount": 0.3333, "tax_rate": 15}}),
            json!({
                "unit_price": {"net_amount": 0.3333, "tax_rate": 15, "tax_amount": 0.05, "total_amount": 0.3833},
                "total_price": {"net_amount": 0.33, "tax_amount": 0.05, "total_amount": 0.38}}),
        ),
        // A stale total_price is recomputed from the unit price.
        (
            json!({"quantity": 2, "unit_price": {"net_amount": 5, "tax_rate": 0},
                "total_price": {"net_amount": 99, "currency": "EUR"}}),
            json!({"quantity": 2,
                "unit_price": {"net_amount": 5, "tax_rate": 0, "tax_amount": 0, "total_amount": 5},
                "total_price": {"net_amount": 10, "tax_amount": 0, "total_amount": 10, "currency": "EUR"}}),
        ),
        // Only a total price: the unit price is divided out.
        (
            json!({"quantity": 4, "total_price": {"total_amount": 46, "tax_rate": 15}}),
            json!({"quantity": 4,
                "total_price": {"net_amount": 40, "tax_rate": 15, "tax_amount": 6, "total_amount": 46},
                "unit_price": {"net_amount": 10, "tax_rate": 15, "tax_amount": 1.5, "total_amount": 11.5}}),
        ),
        // No amounts at all: untouched.
        (
            json!({"description": "note", "quantity": 1}),
            json!({"description": "note", "quantity": 1}),
        ),
    ];
    for (given, expected) in table {
        let mut m = obj(given.clone());
        complete_line(&mut m);
        assert_eq!(Value::Object(m), expected, "completing line {given}");
    }
}

#[test]
fn documents_sum_their_lines() {
    let lines = [
        json!({"total_price": {"net_amount": 10.1, "tax_amount": 1.01, "total_amount": 11.11}}),
        json!({"total_price": {"net_amount": 0.2, "tax_amount": 0.02, "total_amount": 0.22}}),
        json!({"description": "a line without price"}),
    ];
    let sum = sum_lines(lines.iter()).expect("priced lines");
    let mut inv = obj(json!({"currency": "NZD", "amount": {"net_amount": 1}}));
    set_amount(&mut inv, sum);
    assert_eq!(
        inv["amount"],
        json!({"net_amount": 10.3, "tax_amount": 1.03, "total_amount": 11.33, "currency": "NZD"})
    );
    assert_eq!(sum_lines([json!({"quantity": 1})].iter()), None);
}

#[test]
fn a_new_basis_drops_what_was_derived_from_the_old_one() {
    let stored = json!({"net_amount": 10, "tax_rate": 20, "tax_amount": 2, "total_amount": 12});
    let table = [
        (
            json!({"net_amount": 20}),
            json!({"net_amount": 20, "tax_rate": 20, "tax_amount": 4, "total_amount": 24}),
        ),
        (
            json!({"total_amount": 36}),
            json!({"net_amount": 30, "tax_rate": 20, "tax_amount": 6, "total_amount": 36}),
        ),
        (
            json!({"tax_rate": 10}),
            json!({"net_amount": 10, "tax_rate": 10, "tax_amount": 1, "total_amount": 11}),
        ),
        (json!({"currency": "USD"}), {
            let mut s = stored.clone();
            s["currency"] = json!("USD");
            s
        }),
    ];
    for (patch, expected) in table {
        let mut s = obj(stored.clone());
        let p = obj(patch.clone());
        reset_price(&mut s, &p);
        s.extend(p);
        complete_price_obj(&mut s, UNIT_DP);
        assert_eq!(Value::Object(s), expected, "patching with {patch}");
    }

    // A line patched with only a total price: the old unit amounts go, the rate stays.
    let mut line = obj(json!({"quantity": 2,
        "unit_price": {"net_amount": 10, "tax_rate": 20, "tax_amount": 2, "total_amount": 12},
        "total_price": {"net_amount": 20, "tax_amount": 4, "total_amount": 24}}));
    let patch = obj(json!({"total_price": {"total_amount": 48}}));
    reset_line(&mut line, &patch);
    line["total_price"]["total_amount"] = json!(48);
    complete_line(&mut line);
    assert_eq!(line["total_price"]["net_amount"], json!(40));
    assert_eq!(line["total_price"]["tax_amount"], json!(8));
    assert_eq!(line["unit_price"]["net_amount"], json!(20));
    assert_eq!(line["unit_price"]["total_amount"], json!(24));
    assert_eq!(line["unit_price"]["tax_rate"], json!(20));
}

#[test]
fn decimals_round_half_away_from_zero() {
    let d = |v: Value| Dec::from_value(&v).expect("a number");
    assert_eq!(d(json!(2.345)).round(2).to_value(), json!(2.35));
    assert_eq!(d(json!(-2.345)).round(2).to_value(), json!(-2.35));
    assert_eq!(d(json!(1.005)).round(2).to_value(), json!(1.01));
    assert_eq!(d(json!("3")).to_value(), json!(3));
    assert_eq!(Dec::from_value(&json!("x")), None);
    assert_eq!(Dec::from_value(&json!(null)), None);
}
