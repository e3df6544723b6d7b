//! Pure, declarative, bidirectional field mapping between a **hub record**
//! (a Connec! record) and an **app record** (e.g. a HubSpot or Xero object),
//! both plain [`serde_json::Value`] objects.
//!
//! The sync engine maps hub -> app with [`EntityMapping::to_app`], app -> hub
//! with [`EntityMapping::to_hub`], and compares [`content_hash`]es of the
//! canonical projections ([`EntityMapping::canonical_from_hub`] /
//! [`EntityMapping::canonical_from_app`]) to detect changes and suppress
//! echoes. Apart from [`EntityMapping::from_file`] and [`MappingSet::load`]
//! nothing here does I/O.
//!
//! # Semantics
//!
//! * **Paths** ([`FieldPath`]): dot-separated keys; `key[]` fans out over
//!   every element of an array, `key[N]` picks one element. Writes create
//!   intermediate objects and arrays. A path cannot start with `[]`.
//! * **Rules** map one `hub` path to one `app` path, in `direction` `both`
//!   (default), `to_app` or `to_hub`, with optional per-direction transforms
//!   (`to_app`, `to_hub`; one or a list, applied in order).
//! * **Missing source** -> the target is left untouched (key absent from the
//!   output) unless a `default` is given; defaults are written as is (not
//!   transformed). `false`, `0` and `""` are values, not missing.
//! * **Explicit `null` source** -> ignored (`on_null: ignore`, the default);
//!   with `on_null: clear` the target is written with `clear_value` (e.g.
//!   `""` to clear a HubSpot property) or JSON `null`. A transform producing
//!   `null` (`parse_number` on `""`) counts as a null source.
//! * **`constant`** always writes a value in the rule's single `direction`
//!   (the source path may be omitted).
//! * **`lines`** maps two arrays element by element with a nested
//!   sub-mapping (order and length preserved; every element must be an
//!   object).
//! * **References** (`references:`) are copied unchanged (nulls ignored),
//!   after the field rules, element-wise when their paths contain `[]`; the
//!   engine rewrites ids through its id map. [`EntityMapping::references`]
//!   lists all of them, including those declared inside `lines` with full
//!   paths (`lines[].item_id` <-> `LineItems[].ItemCode`).
//! * **App paths**: [`EntityMapping::app_paths`] lists every app path the
//!   mapping reads (`to_hub`) or writes (`to_app`), in declaration order and
//!   with `lines` paths in full, so a connector can derive the properties to
//!   request and the changes to subscribe to;
//!   [`EntityMapping::app_fields_under`] gives the keys under a prefix (the
//!   HubSpot property names under `properties.`).
//! * **Hashing**: [`canonical_json`] sorts keys, drops null members and
//!   prints numbers in one form; [`content_hash`] is its hex SHA-256. For
//!   invertible transforms `to_hub(to_app(h))` is the projection of `h` on
//!   the mapped hub paths, so `canonical_from_hub(h)` and
//!   `canonical_from_app(to_app(h))` hash the same.
//!
//! # File format (YAML or JSON, same structure)
//!
//! ```yaml
//! name: people            # optional
//! fields:
//!   - hub: first_name
//!     app: properties.firstname
//!   - hub: email.address
//!     app: properties.email
//!     to_app: [trim, lowercase]
//!   - hub: is_customer
//!     app: properties.is_customer
//!     to_app: to_string
//!     to_hub: parse_bool
//!   - hub: number_of_employees
//!     app: properties.numberofemployees
//!     to_app: to_string
//!     to_hub: parse_integer
//!   - hub: phone_work.landline
//!     app: properties.phone
//!     on_null: clear
//!     clear_value: ""
//!   - hub: status
//!     app: properties.hs_lead_status
//!     to_app: { enum: { ACTIVE: OPEN, INACTIVE: UNQUALIFIED }, fallback: OPEN }
//!     to_hub: { enum: { OPEN: ACTIVE, UNQUALIFIED: INACTIVE } }
//!   - hub: birth_date
//!     app: properties.date_of_birth
//!     to_app: { datetime: { from: rfc3339, to: date } }
//!     to_hub: { datetime: { from: date, to: rfc3339 } }
//!   - hub: lead_source
//!     app: properties.hs_analytics_source
//!     direction: to_app
//!     default: OFFLINE
//!   - hub: lines
//!     app: LineItems
//!     lines:
//!       fields:
//!         - { hub: description, app: Description }
//!         - { hub: quantity, app: Quantity }
//!       references:
//!         - { hub: item_id, app: ItemCode, entity: items }
//! references:
//!   - hub: organization_id
//!     app: properties.associatedcompanyid
//!     entity: organizations
//! ```
//!
//! Rule keys: `hub`, `app`, `direction`, `to_app`, `to_hub`, `default`,
//! `default_to_app`, `default_to_hub`, `constant`, `on_null`, `clear_value`,
//! `lines`. Unknown keys are errors. Transforms: `to_string`,
//! `parse_number`, `parse_integer`, `parse_bool`, `bool_to_string`,
//! `lowercase`, `uppercase`, `trim`, `{ enum: {..}, fallback: .. }`,
//! `{ datetime: { from: F, to: F } }` (F: `rfc3339`, `epoch_millis`,
//! `epoch_seconds`, `date`, `xero_date` or a strftime pattern) and
//! `{ custom: name }` (resolved in the [`FunctionRegistry`] at load).
//!
//! Load errors name the origin, the rule and the problem, e.g.
//! `people.yaml: fields[3] (hub "email.address"): unknown transform "lowercse"`.
//!
//! A connector ships its mappings as [`BuiltinMapping`]s and loads them with
//! [`MappingSet::load`], which lets a user replace any of them with a file of
//! the same name in a directory (and rejects files there that replace
//! nothing: `mappings/peple.yaml: unknown hubspot mapping file (did you mean
//! "people.yaml"?); expected one of: organizations.yaml, people.yaml`).
//!
//! # Example
//!
//! ```
//! use mapping::{content_hash, EntityMapping, FunctionRegistry};
//! use serde_json::json;
//!
//! let yaml = r#"
//! fields:
//!   - { hub: first_name, app: properties.firstname }
//!   - { hub: email.address, app: properties.email, to_app: [trim, lowercase] }
//!   - { hub: is_customer, app: properties.is_customer, to_app: to_string, to_hub: parse_bool }
//! references:
//!   - { hub: organization_id, app: properties.associatedcompanyid, entity: organizations }
//! "#;
//! let m = EntityMapping::from_yaml_str(yaml, "people.yaml", &FunctionRegistry::new()).unwrap();
//!
//! let hub = json!({
//!     "first_name": "Ann",
//!     "email": {"address": " Ann@X.io "},
//!     "is_customer": false,
//!     "organization_id": "org-1",
//!     "notes": "not mapped",
//! });
//! let app = m.to_app(&hub).unwrap();
//! assert_eq!(app, json!({"properties": {
//!     "firstname": "Ann", "email": "ann@x.io", "is_customer": "false",
//!     "associatedcompanyid": "org-1",
//! }}));
//!
//! let back = m.to_hub(&app).unwrap();
//! assert_eq!(back, json!({
//!     "first_name": "Ann", "email": {"address": "ann@x.io"},
//!     "is_customer": false, "organization_id": "org-1",
//! }));
//!
//! // Echo suppression: the app record we just wrote hashes like its source.
//! assert_eq!(
//!     content_hash(&m.canonical_from_hub(&hub).unwrap()),
//!     content_hash(&m.canonical_from_app(&app).unwrap()),
//! );
//! ```

mod error;
mod hash;
mod load;
mod mapping;
mod path;
mod set;
mod suggest;
mod transform;

pub use error::{
    MapError, MappingError, PathError, RuleLocation, RuleProblem, Side, TransformError,
};
pub use hash::{ContentHash, canonical_json, content_hash};
pub use mapping::{
    AppPath, Direction, EntityMapping, FieldSpec, MappingBuilder, OnNull, Reference,
};
pub use path::FieldPath;
pub use set::{BuiltinMapping, MappingSet};
pub use transform::{CustomFn, CustomFnPtr, DateFormat, EnumTable, FunctionRegistry, Transform};
