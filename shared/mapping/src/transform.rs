//! Value transforms applied by field rules, and the registry of named custom
//! Rust functions.

use std::collections::{BTreeMap, HashMap};
use std::fmt::{self, Write as _};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde_json::{Number, Value};

use crate::error::TransformError;

/// Signature of a custom transform.
pub type CustomFnPtr = dyn Fn(&Value) -> Result<Value, String> + Send + Sync + 'static;

/// A named custom transform (cheap to clone: the function is shared).
#[derive(Clone)]
pub struct CustomFn {
    name: String,
    f: Arc<CustomFnPtr>,
}

impl CustomFn {
    /// Wraps a function under a name (used in error messages).
    pub fn new(
        name: impl Into<String>,
        f: impl Fn(&Value) -> Result<Value, String> + Send + Sync + 'static,
    ) -> Self {
        CustomFn {
            name: name.into(),
            f: Arc::new(f),
        }
    }

    /// The registered name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Calls the function.
    pub fn call(&self, v: &Value) -> Result<Value, String> {
        (self.f)(v)
    }
}

impl fmt::Debug for CustomFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CustomFn({:?})", self.name)
    }
}

/// Named custom Rust transforms that mapping files can reference with
/// `custom: <name>`. Names are resolved when the mapping is loaded, so a typo
/// is a load error rather than a runtime one.
///
/// ```
/// use mapping::FunctionRegistry;
/// use serde_json::{json, Value};
///
/// let mut fns = FunctionRegistry::new();
/// fns.register("cents", |v: &Value| {
///     v.as_f64().map(|x| json!((x * 100.0).round() as i64)).ok_or_else(|| "not a number".to_string())
/// });
/// assert!(fns.get("cents").is_some());
/// assert_eq!(fns.get("cents").unwrap().call(&json!(1.5)).unwrap(), json!(150));
/// ```
#[derive(Clone, Default)]
pub struct FunctionRegistry {
    functions: HashMap<String, CustomFn>,
}

impl FunctionRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers (or replaces) `name`.
    pub fn register(
        &mut self,
        name: &str,
        f: impl Fn(&Value) -> Result<Value, String> + Send + Sync + 'static,
    ) -> &mut Self {
        self.functions
            .insert(name.to_string(), CustomFn::new(name, f));
        self
    }

    /// Looks a function up by name.
    pub fn get(&self, name: &str) -> Option<CustomFn> {
        self.functions.get(name).cloned()
    }

    /// Registered names, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.functions.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }
}

impl fmt::Debug for FunctionRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FunctionRegistry")
            .field("functions", &self.names())
            .finish()
    }
}

/// A lookup table for the `enum` transform.
///
/// Keys are matched against the input's scalar text: strings as-is, numbers
/// in canonical form (`1`, `1.0` -> `"1"`), booleans as `true`/`false`. That
/// lets one table serve both typed hub values and string-typed app values.
#[derive(Debug, Clone, PartialEq)]
pub struct EnumTable {
    entries: BTreeMap<String, Value>,
    fallback: Option<Value>,
}

impl EnumTable {
    /// Builds a table from `(from, to)` pairs.
    pub fn new<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Value)>) -> Self {
        EnumTable {
            entries: pairs.into_iter().map(|(k, v)| (k.into(), v)).collect(),
            fallback: None,
        }
    }

    /// Value used for inputs absent from the table (instead of an error).
    pub fn with_fallback(mut self, fallback: Value) -> Self {
        self.fallback = Some(fallback);
        self
    }
}

/// A date/time representation for the `datetime` transform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateFormat {
    /// `2024-05-01T12:30:00Z`. Output is always UTC with `Z`; input accepts
    /// any offset, and also a naive `YYYY-MM-DDTHH:MM:SS[.f]` taken as UTC.
    Rfc3339,
    /// Milliseconds since the Unix epoch (number, or numeric string on input).
    EpochMillis,
    /// Seconds since the Unix epoch (number, or numeric string on input).
    EpochSeconds,
    /// `YYYY-MM-DD` (midnight UTC on input).
    Date,
    /// Xero's `/Date(1700000000000+0000)/` (the offset suffix is ignored on
    /// input: the millisecond count is UTC; output always writes `+0000`).
    XeroDate,
    /// A chrono strftime pattern, e.g. `%d/%m/%Y %H:%M`. Values without an
    /// offset are taken as UTC.
    Pattern(String),
}

impl DateFormat {
    /// Parses a format keyword, or a strftime pattern (anything containing
    /// `%`). Returns `None` for anything else.
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "rfc3339" => DateFormat::Rfc3339,
            "epoch_millis" => DateFormat::EpochMillis,
            "epoch_seconds" => DateFormat::EpochSeconds,
            "date" => DateFormat::Date,
            "xero_date" => DateFormat::XeroDate,
            p if p.contains('%') => DateFormat::Pattern(p.to_string()),
            _ => return None,
        })
    }

    fn label(&self) -> String {
        match self {
            DateFormat::Rfc3339 => "rfc3339".into(),
            DateFormat::EpochMillis => "epoch_millis".into(),
            DateFormat::EpochSeconds => "epoch_seconds".into(),
            DateFormat::Date => "date".into(),
            DateFormat::XeroDate => "xero_date".into(),
            DateFormat::Pattern(p) => format!("\"{p}\""),
        }
    }

    /// True when a strftime pattern is well formed (keywords always are).
    pub(crate) fn is_valid(&self) -> bool {
        match self {
            DateFormat::Pattern(p) => chrono::format::StrftimeItems::new(p)
                .all(|item| !matches!(item, chrono::format::Item::Error)),
            _ => true,
        }
    }

    fn read(&self, v: &Value) -> Option<DateTime<Utc>> {
        match self {
            DateFormat::Rfc3339 => read_rfc3339(v.as_str()?),
            DateFormat::EpochMillis => DateTime::from_timestamp_millis(read_epoch(v)?),
            DateFormat::EpochSeconds => {
                let secs = read_epoch_f64(v)?;
                DateTime::from_timestamp_millis((secs * 1000.0).round() as i64)
            }
            DateFormat::Date => Some(
                NaiveDate::parse_from_str(v.as_str()?.trim(), "%Y-%m-%d")
                    .ok()?
                    .and_hms_opt(0, 0, 0)?
                    .and_utc(),
            ),
            DateFormat::XeroDate => {
                let s = v.as_str()?.trim();
                match s.strip_prefix("/Date(").and_then(|r| r.strip_suffix(")/")) {
                    Some(inner) => {
                        // Digits, optionally signed, then an optional ±HHMM.
                        let body = inner.strip_prefix('-').unwrap_or(inner);
                        let digits = body.find(['+', '-']).map_or(body, |i| &body[..i]);
                        let millis: i64 = digits.parse().ok()?;
                        let millis = if inner.starts_with('-') {
                            -millis
                        } else {
                            millis
                        };
                        DateTime::from_timestamp_millis(millis)
                    }
                    // Xero also returns ISO strings in *DateString fields.
                    None => read_rfc3339(s),
                }
            }
            DateFormat::Pattern(p) => {
                let s = v.as_str()?;
                DateTime::parse_from_str(s, p)
                    .map(|d| d.with_timezone(&Utc))
                    .ok()
                    .or_else(|| {
                        NaiveDateTime::parse_from_str(s, p)
                            .ok()
                            .map(|d| d.and_utc())
                    })
                    .or_else(|| {
                        NaiveDate::parse_from_str(s, p)
                            .ok()
                            .and_then(|d| d.and_hms_opt(0, 0, 0))
                            .map(|d| d.and_utc())
                    })
            }
        }
    }

    fn write(&self, dt: DateTime<Utc>) -> Result<Value, TransformError> {
        Ok(match self {
            DateFormat::Rfc3339 => Value::String(dt.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            DateFormat::EpochMillis => Value::from(dt.timestamp_millis()),
            DateFormat::EpochSeconds => Value::from(dt.timestamp()),
            DateFormat::Date => Value::String(dt.format("%Y-%m-%d").to_string()),
            DateFormat::XeroDate => {
                Value::String(format!("/Date({}+0000)/", dt.timestamp_millis()))
            }
            DateFormat::Pattern(p) => {
                let mut out = String::new();
                // Formatting reports bad patterns as fmt::Error instead of panicking here.
                write!(out, "{}", dt.format(p)).map_err(|_| TransformError::DateFormat {
                    format: self.label(),
                })?;
                Value::String(out)
            }
        })
    }
}

fn read_rfc3339(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|d| d.and_utc())
        })
}

fn read_epoch(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite())
                .map(|f| f.round() as i64)
        }),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>().ok().or_else(|| {
                s.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(|f| f.round() as i64)
            })
        }
        _ => None,
    }
}

fn read_epoch_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|f| f.is_finite())
}

/// A value transform. In files, simple transforms are written by name
/// (`trim`), parameterised ones as a map (`{ enum: {A: B}, fallback: C }`,
/// `{ datetime: { from: rfc3339, to: date } }`, `{ custom: name }`).
///
/// Transforms never see `null` (null handling is the rule's `on_null`). A
/// transform that produces `null` (the `parse_*` family on a blank string)
/// makes the rule treat the source as null.
///
/// ```
/// use mapping::Transform;
/// use serde_json::json;
/// assert_eq!(Transform::ToString.apply(&json!(42)).unwrap(), json!("42"));
/// assert_eq!(Transform::ParseBool.apply(&json!("Yes")).unwrap(), json!(true));
/// assert!(Transform::ParseBool.apply(&json!("maybe")).is_err());
/// ```
#[derive(Debug, Clone)]
pub enum Transform {
    /// Numbers and booleans to their text (numbers in canonical form, so
    /// `3.0` -> `"3"`); strings unchanged.
    ToString,
    /// Numeric string -> number (integer when it fits `i64`, else `f64`);
    /// numbers unchanged; blank string -> null.
    ParseNumber,
    /// String or number -> `i64` (integral floats like `"4.0"` accepted);
    /// blank string -> null.
    ParseInteger,
    /// `true/false/1/0/yes/no` (case-insensitive, trimmed) or 0/1 -> bool;
    /// bools unchanged; blank string -> null.
    ParseBool,
    /// Bool -> `"true"`/`"false"`; strings unchanged.
    BoolToString,
    /// Lower-cases strings; other scalars unchanged.
    Lowercase,
    /// Upper-cases strings; other scalars unchanged.
    Uppercase,
    /// Trims whitespace around strings; other scalars unchanged.
    Trim,
    /// Table lookup, see [`EnumTable`].
    Enum(EnumTable),
    /// Date/time conversion between two [`DateFormat`]s.
    Datetime {
        /// How the input is read.
        from: DateFormat,
        /// How the output is written.
        to: DateFormat,
    },
    /// A registered Rust function.
    Custom(CustomFn),
}

/// Names accepted in files for the parameterless transforms.
pub(crate) const SIMPLE_NAMES: &[&str] = &[
    "to_string",
    "parse_number",
    "parse_integer",
    "parse_bool",
    "bool_to_string",
    "lowercase",
    "uppercase",
    "trim",
];

impl Transform {
    /// The parameterless transform with this file name (`trim`, `to_string`...).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "to_string" => Transform::ToString,
            "parse_number" => Transform::ParseNumber,
            "parse_integer" => Transform::ParseInteger,
            "parse_bool" => Transform::ParseBool,
            "bool_to_string" => Transform::BoolToString,
            "lowercase" => Transform::Lowercase,
            "uppercase" => Transform::Uppercase,
            "trim" => Transform::Trim,
            _ => return None,
        })
    }

    /// The file name of this transform (`enum`, `datetime`, `custom` for the
    /// parameterised ones).
    pub fn name(&self) -> &'static str {
        match self {
            Transform::ToString => "to_string",
            Transform::ParseNumber => "parse_number",
            Transform::ParseInteger => "parse_integer",
            Transform::ParseBool => "parse_bool",
            Transform::BoolToString => "bool_to_string",
            Transform::Lowercase => "lowercase",
            Transform::Uppercase => "uppercase",
            Transform::Trim => "trim",
            Transform::Enum(_) => "enum",
            Transform::Datetime { .. } => "datetime",
            Transform::Custom(_) => "custom",
        }
    }

    /// Applies the transform to one (non-null) value.
    pub fn apply(&self, v: &Value) -> Result<Value, TransformError> {
        let type_err = || TransformError::Type {
            transform: self.name(),
            found: type_name(v),
            value: v.to_string(),
        };
        let parse_err = |target| TransformError::Parse {
            value: v.to_string(),
            target,
        };
        match self {
            Transform::ToString => match v {
                Value::String(_) => Ok(v.clone()),
                Value::Number(n) => Ok(Value::String(canonical_number(n))),
                Value::Bool(b) => Ok(Value::String(b.to_string())),
                _ => Err(type_err()),
            },
            Transform::ParseNumber => match v {
                Value::Number(_) => Ok(v.clone()),
                Value::String(s) if s.trim().is_empty() => Ok(Value::Null),
                Value::String(s) => parse_number(s.trim()).ok_or_else(|| parse_err("a number")),
                _ => Err(type_err()),
            },
            Transform::ParseInteger => {
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
                        .ok_or_else(|| parse_err("an integer")),
                    Value::String(s) if s.trim().is_empty() => Ok(Value::Null),
                    Value::String(s) => match parse_number(s.trim()) {
                        Some(Value::Number(n)) => as_int(&n).map(Value::from),
                        _ => None,
                    }
                    .ok_or_else(|| parse_err("an integer")),
                    _ => Err(type_err()),
                }
            }
            Transform::ParseBool => match v {
                Value::Bool(_) => Ok(v.clone()),
                Value::Number(n) if n.as_f64() == Some(1.0) => Ok(Value::Bool(true)),
                Value::Number(n) if n.as_f64() == Some(0.0) => Ok(Value::Bool(false)),
                Value::String(s) if s.trim().is_empty() => Ok(Value::Null),
                Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                    "true" | "1" | "yes" => Ok(Value::Bool(true)),
                    "false" | "0" | "no" => Ok(Value::Bool(false)),
                    _ => Err(parse_err("a boolean")),
                },
                Value::Number(_) => Err(parse_err("a boolean")),
                _ => Err(type_err()),
            },
            Transform::BoolToString => match v {
                Value::Bool(b) => Ok(Value::String(b.to_string())),
                Value::String(_) => Ok(v.clone()),
                _ => Err(type_err()),
            },
            Transform::Lowercase | Transform::Uppercase | Transform::Trim => match v {
                Value::String(s) => Ok(Value::String(match self {
                    Transform::Lowercase => s.to_lowercase(),
                    Transform::Uppercase => s.to_uppercase(),
                    _ => s.trim().to_string(),
                })),
                Value::Number(_) | Value::Bool(_) => Ok(v.clone()),
                _ => Err(type_err()),
            },
            Transform::Enum(table) => {
                let key = scalar_text(v).ok_or_else(type_err)?;
                match (table.entries.get(&key), &table.fallback) {
                    (Some(out), _) | (None, Some(out)) => Ok(out.clone()),
                    (None, None) => Err(TransformError::UnknownEnumValue {
                        value: v.to_string(),
                    }),
                }
            }
            Transform::Datetime { from, to } => {
                let dt = from.read(v).ok_or_else(|| TransformError::DateParse {
                    value: v.to_string(),
                    format: from.label(),
                })?;
                to.write(dt)
            }
            Transform::Custom(f) => f.call(v).map_err(|message| TransformError::Custom {
                name: f.name.clone(),
                message,
            }),
        }
    }
}

/// Parses a trimmed numeric string into the narrowest JSON number.
fn parse_number(s: &str) -> Option<Value> {
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

/// Human-readable JSON type, with article, for messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(t: &Transform, v: Value) -> Value {
        t.apply(&v)
            .unwrap_or_else(|e| panic!("{} on {v}: {e}", t.name()))
    }
    fn err(t: &Transform, v: Value) -> String {
        t.apply(&v).unwrap_err().to_string()
    }

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
    fn enum_table() {
        let t = Transform::Enum(EnumTable::new([
            ("ACTIVE", json!("OPEN")),
            ("1", json!("ONE")),
        ]));
        assert_eq!(ok(&t, json!("ACTIVE")), json!("OPEN"));
        assert_eq!(ok(&t, json!(1)), json!("ONE"));
        assert_eq!(ok(&t, json!(1.0)), json!("ONE"));
        assert_eq!(
            err(&t, json!("GONE")),
            "\"GONE\" is not in the enum table (and there is no fallback)"
        );
        assert!(t.apply(&json!([1])).is_err());
        let t = Transform::Enum(EnumTable::new([("A", json!("B"))]).with_fallback(json!("Z")));
        assert_eq!(ok(&t, json!("nope")), json!("Z"));
    }

    fn dt(from: &str, to: &str) -> Transform {
        Transform::Datetime {
            from: DateFormat::from_name(from).unwrap(),
            to: DateFormat::from_name(to).unwrap(),
        }
    }

    #[test]
    fn datetime_conversions() {
        assert_eq!(
            ok(&dt("rfc3339", "date"), json!("2024-05-01T23:30:00-02:00")),
            json!("2024-05-02")
        );
        assert_eq!(
            ok(&dt("date", "rfc3339"), json!("2024-05-01")),
            json!("2024-05-01T00:00:00Z")
        );
        assert_eq!(
            ok(
                &dt("rfc3339", "rfc3339"),
                json!("2024-05-01T12:00:00.250+01:00")
            ),
            json!("2024-05-01T11:00:00.250Z")
        );
        assert_eq!(
            ok(&dt("rfc3339", "rfc3339"), json!("2024-05-01T12:00:00")),
            json!("2024-05-01T12:00:00Z")
        );
        assert_eq!(
            ok(&dt("epoch_millis", "rfc3339"), json!(1_700_000_000_000i64)),
            json!("2023-11-14T22:13:20Z")
        );
        assert_eq!(
            ok(&dt("epoch_millis", "rfc3339"), json!("1700000000000")),
            json!("2023-11-14T22:13:20Z")
        );
        assert_eq!(
            ok(
                &dt("rfc3339", "epoch_millis"),
                json!("2023-11-14T22:13:20Z")
            ),
            json!(1_700_000_000_000i64)
        );
        assert_eq!(
            ok(
                &dt("rfc3339", "epoch_seconds"),
                json!("2023-11-14T22:13:20Z")
            ),
            json!(1_700_000_000i64)
        );
        assert_eq!(
            ok(&dt("epoch_seconds", "date"), json!(1_700_000_000i64)),
            json!("2023-11-14")
        );
        assert_eq!(
            ok(
                &dt("xero_date", "rfc3339"),
                json!("/Date(1700000000000+0000)/")
            ),
            json!("2023-11-14T22:13:20Z")
        );
        assert_eq!(
            ok(
                &dt("xero_date", "epoch_millis"),
                json!("/Date(1700000000000)/")
            ),
            json!(1_700_000_000_000i64)
        );
        assert_eq!(
            ok(&dt("rfc3339", "xero_date"), json!("2023-11-14T22:13:20Z")),
            json!("/Date(1700000000000+0000)/")
        );
        assert_eq!(
            ok(&dt("%d/%m/%Y", "date"), json!("02/03/2024")),
            json!("2024-03-02")
        );
        assert_eq!(
            ok(
                &dt("rfc3339", "%d/%m/%Y %H:%M"),
                json!("2024-03-02T10:05:00Z")
            ),
            json!("02/03/2024 10:05")
        );
        assert_eq!(
            err(&dt("date", "rfc3339"), json!("2024-13-01")),
            "cannot read \"2024-13-01\" as a date date/time"
        );
        assert!(dt("rfc3339", "date").apply(&json!(12)).is_err());
        assert!(DateFormat::from_name("iso").is_none());
        assert!(!DateFormat::Pattern("%Q".into()).is_valid());
        assert!(DateFormat::Pattern("%Y-%m".into()).is_valid());
    }

    #[test]
    fn custom_function() {
        let mut reg = FunctionRegistry::new();
        reg.register("fail", |_| Err("nope".into()))
            .register("double", |v| Ok(json!(v.as_i64().unwrap_or(0) * 2)));
        assert_eq!(reg.names(), vec!["double", "fail"]);
        let t = Transform::Custom(reg.get("double").unwrap());
        assert_eq!(ok(&t, json!(21)), json!(42));
        let t = Transform::Custom(reg.get("fail").unwrap());
        assert_eq!(err(&t, json!(1)), "custom function \"fail\" failed: nope");
        assert!(format!("{reg:?}").contains("double"));
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
