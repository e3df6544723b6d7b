//! The parameterless transforms (`to_string`, `parse_number`,
//! `parse_integer`, `parse_bool`, `bool_to_string`, `lowercase`,
//! `uppercase`, `trim`) and the one textual form of JSON scalars they and
//! the hash share.

use serde_json::{Number, Value};

use super::type_error;
use crate::error::TransformError;

fn parse_error(v: &Value, target: &'static str) -> TransformError {
    TransformError::Parse {
        value: v.to_string(),
        target,
    }
}

/// `to_string`: numbers (canonical form) and booleans to text.
pub(super) fn to_string(v: &Value) -> Result<Value, TransformError> {
    match v {
        Value::String(_) => Ok(v.clone()),
        Value::Number(n) => Ok(Value::String(canonical_number(n))),
        Value::Bool(b) => Ok(Value::String(b.to_string())),
        _ => Err(type_error("to_string", v)),
    }
}

/// `parse_number`: numeric string -> number; blank -> null.
pub(super) fn parse_number(v: &Value) -> Result<Value, TransformError> {
    match v {
        Value::Number(_) => Ok(v.clone()),
        Value::String(s) if s.trim().is_empty() => Ok(Value::Null),
        Value::String(s) => number_from_str(s.trim()).ok_or_else(|| parse_error(v, "a number")),
        _ => Err(type_error("parse_number", v)),
    }
}

/// `parse_integer`: string or number -> `i64`; blank -> null.
pub(super) fn parse_integer(v: &Value) -> Result<Value, TransformError> {
    let as_int = |n: &Number| {
        n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18)
                .map(|f| f as i64)
        })
    };
    match v {
        Value::Number(n) => as_int(n)
            .map(Value::from)
            .ok_or_else(|| parse_error(v, "an integer")),
        Value::String(s) if s.trim().is_empty() => Ok(Value::Null),
        Value::String(s) => match number_from_str(s.trim()) {
            Some(Value::Number(n)) => as_int(&n).map(Value::from),
            _ => None,
        }
        .ok_or_else(|| parse_error(v, "an integer")),
        _ => Err(type_error("parse_integer", v)),
    }
}

/// `parse_bool`: `true/false/1/0/yes/no` or 0/1 -> bool; blank -> null.
pub(super) fn parse_bool(v: &Value) -> Result<Value, TransformError> {
    match v {
        Value::Bool(_) => Ok(v.clone()),
        Value::Number(n) if n.as_f64() == Some(1.0) => Ok(Value::Bool(true)),
        Value::Number(n) if n.as_f64() == Some(0.0) => Ok(Value::Bool(false)),
        Value::String(s) if s.trim().is_empty() => Ok(Value::Null),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(Value::Bool(true)),
            "false" | "0" | "no" => Ok(Value::Bool(false)),
            _ => Err(parse_error(v, "a boolean")),
        },
        Value::Number(_) => Err(parse_error(v, "a boolean")),
        _ => Err(type_error("parse_bool", v)),
    }
}

/// `bool_to_string`: bool -> `"true"`/`"false"`; strings unchanged.
pub(super) fn bool_to_string(v: &Value) -> Result<Value, TransformError> {
    match v {
        Value::Bool(b) => Ok(Value::String(b.to_string())),
        Value::String(_) => Ok(v.clone()),
        _ => Err(type_error("bool_to_string", v)),
    }
}

/// `lowercase`, `uppercase`, `trim` (named `transform`): `f` on strings;
/// other scalars unchanged.
pub(super) fn edit_text(
    transform: &'static str,
    v: &Value,
    f: impl FnOnce(&str) -> String,
) -> Result<Value, TransformError> {
    match v {
        Value::String(s) => Ok(Value::String(f(s))),
        Value::Number(_) | Value::Bool(_) => Ok(v.clone()),
        _ => Err(type_error(transform, v)),
    }
}

/// Parses a trimmed numeric string into the narrowest JSON number.
fn number_from_str(s: &str) -> Option<Value> {
    if let Ok(i) = s.parse::<i64>() {
        return Some(Value::from(i));
    }
    if let Ok(u) = s.parse::<u64>() {
        return Some(Value::from(u));
    }
    // Reject "inf"/"NaN", which Rust parses but JSON cannot hold.
    let f = s.parse::<f64>().ok().filter(|f| f.is_finite())?;
    Number::from_f64(f).map(Value::Number)
}

/// Text used to match scalars against enum keys.
pub(crate) fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(canonical_number(n)),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// One textual form per numeric value: integers (and integral floats within
/// ±2^64) print as integers, other floats with Rust's shortest round-trip
/// representation (`{}`), huge integral floats in exponent form.
pub(crate) fn canonical_number(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    if f.fract() == 0.0 && f.abs() < 18_446_744_073_709_551_616.0 {
        // `as i128` is exact here and maps -0.0 to 0.
        (f as i128).to_string()
    } else if f.fract() == 0.0 {
        format!("{f:e}")
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::Transform;
    use crate::transform::test_support::{err, ok};
    use serde_json::json;

    #[test]
    fn to_string() {
        let t = Transform::ToString;
        assert_eq!(ok(&t, json!(42)), json!("42"));
        assert_eq!(ok(&t, json!(-1.5)), json!("-1.5"));
        assert_eq!(ok(&t, json!(3.0)), json!("3"));
        assert_eq!(ok(&t, json!(true)), json!("true"));
        assert_eq!(ok(&t, json!("x")), json!("x"));
        assert_eq!(ok(&t, json!("")), json!(""));
        assert!(err(&t, json!([1])).contains("to_string cannot convert an array"));
    }

    #[test]
    fn parse_number() {
        let t = Transform::ParseNumber;
        assert_eq!(ok(&t, json!("42")), json!(42));
        assert_eq!(ok(&t, json!(" -7 ")), json!(-7));
        assert_eq!(ok(&t, json!("2.5")), json!(2.5));
        assert_eq!(
            ok(&t, json!("18446744073709551615")),
            json!(18446744073709551615u64)
        );
        assert_eq!(ok(&t, json!(1.25)), json!(1.25));
        assert_eq!(ok(&t, json!("")), Value::Null);
        assert_eq!(err(&t, json!("abc")), "cannot parse \"abc\" as a number");
        assert!(t.apply(&json!("NaN")).is_err());
        assert!(t.apply(&json!(true)).is_err());
    }

    #[test]
    fn parse_integer() {
        let t = Transform::ParseInteger;
        assert_eq!(ok(&t, json!("42")), json!(42));
        assert_eq!(ok(&t, json!("4.0")), json!(4));
        assert_eq!(ok(&t, json!(7.0)), json!(7));
        assert_eq!(ok(&t, json!(7)), json!(7));
        assert_eq!(ok(&t, json!("  ")), Value::Null);
        assert_eq!(err(&t, json!("4.5")), "cannot parse \"4.5\" as an integer");
        assert!(t.apply(&json!(4.5)).is_err());
        assert!(t.apply(&json!({})).is_err());
    }

    #[test]
    fn parse_bool() {
        let t = Transform::ParseBool;
        for s in ["true", "TRUE", "1", "yes", " Yes "] {
            assert_eq!(ok(&t, json!(s)), json!(true), "{s}");
        }
        for s in ["false", "False", "0", "no", "NO"] {
            assert_eq!(ok(&t, json!(s)), json!(false), "{s}");
        }
        assert_eq!(ok(&t, json!(true)), json!(true));
        assert_eq!(ok(&t, json!(0)), json!(false));
        assert_eq!(ok(&t, json!("")), Value::Null);
        assert_eq!(
            err(&t, json!("maybe")),
            "cannot parse \"maybe\" as a boolean"
        );
        assert!(t.apply(&json!(2)).is_err());
    }

    #[test]
    fn bool_to_string_and_case_and_trim() {
        assert_eq!(ok(&Transform::BoolToString, json!(false)), json!("false"));
        assert_eq!(ok(&Transform::BoolToString, json!("true")), json!("true"));
        assert!(Transform::BoolToString.apply(&json!(1)).is_err());
        assert_eq!(ok(&Transform::Lowercase, json!("AbÇ")), json!("abç"));
        assert_eq!(ok(&Transform::Uppercase, json!("abç")), json!("ABÇ"));
        assert_eq!(ok(&Transform::Trim, json!("  a b \n")), json!("a b"));
        assert_eq!(ok(&Transform::Trim, json!(5)), json!(5));
        assert!(Transform::Lowercase.apply(&json!({"a": 1})).is_err());
    }

    #[test]
    fn canonical_numbers() {
        let n = |v: Value| canonical_number(v.as_number().unwrap());
        assert_eq!(n(json!(1)), "1");
        assert_eq!(n(json!(1.0)), "1");
        assert_eq!(n(json!(-0.0)), "0");
        assert_eq!(n(json!(0.1)), "0.1");
        assert_eq!(n(json!(1e19)), "10000000000000000000");
        assert_eq!(n(json!(1e20)), "1e20");
        assert_eq!(n(json!(1e300)), "1e300");
        assert_eq!(n(json!(u64::MAX)), "18446744073709551615");
    }
}
