//! Custom transforms: [`CustomFn`] (a named Rust function) and the
//! [`FunctionRegistry`] that `{ custom: name }` rules are resolved in at load.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde_json::Value;

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

    /// Calls the function as a transform: its error message becomes
    /// [`TransformError::Custom`].
    pub(super) fn apply(&self, v: &Value) -> Result<Value, TransformError> {
        self.call(v).map_err(|message| TransformError::Custom {
            name: self.name.clone(),
            message,
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::Transform;
    use crate::transform::test_support::{err, ok};
    use serde_json::json;

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
}
