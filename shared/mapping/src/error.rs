//! Typed errors: [`PathError`] (path syntax), [`MappingError`] (loading and
//! validating a mapping), [`MapError`] and [`TransformError`] (mapping a
//! record at runtime).

use std::fmt;

use crate::Direction;

/// A malformed [`FieldPath`](crate::FieldPath).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path is empty or only whitespace.
    #[error("path is empty")]
    Empty,
    /// Two dots in a row, or a leading/trailing dot.
    #[error("path \"{path}\" has an empty segment at position {position}")]
    EmptySegment {
        /// The whole path text.
        path: String,
        /// Zero-based segment index.
        position: usize,
    },
    /// A segment that is not `key`, `key[]` or `key[N]`.
    #[error("path \"{path}\": invalid segment \"{segment}\": {reason}")]
    BadSegment {
        /// The whole path text.
        path: String,
        /// Zero-based segment index.
        position: usize,
        /// The offending segment.
        segment: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Where in a mapping document a rule lives, plus its paths, for messages
/// like `fields[3] (hub "email.address")`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleLocation {
    /// `fields[3]`, `references[0]` or `fields[8].lines.fields[1]`.
    pub index: String,
    /// The rule's hub path text, if it has one.
    pub hub: Option<String>,
    /// The rule's app path text, if it has one.
    pub app: Option<String>,
}

impl fmt::Display for RuleLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.index)?;
        match (&self.hub, &self.app) {
            (Some(h), _) => write!(f, " (hub \"{h}\")"),
            (None, Some(a)) => write!(f, " (app \"{a}\")"),
            (None, None) => Ok(()),
        }
    }
}

/// What is wrong with one rule of a mapping.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RuleProblem {
    /// A hub or app path does not parse.
    #[error("invalid {side} path: {error}")]
    InvalidPath {
        /// `hub` or `app`.
        side: &'static str,
        /// The parse error.
        error: PathError,
    },
    /// A required key is absent.
    #[error("missing `{0}`")]
    Missing(&'static str),
    /// A transform name that does not exist.
    #[error("unknown transform \"{name}\"{hint}")]
    UnknownTransform {
        /// The name as written.
        name: String,
        /// ` (did you mean "…"?)` or empty.
        hint: String,
    },
    /// `custom: name` with a name absent from the [`FunctionRegistry`](crate::FunctionRegistry).
    #[error("unknown custom function \"{0}\" (not in the function registry)")]
    UnknownFunction(String),
    /// A datetime format that is neither a keyword nor a strftime pattern.
    #[error(
        "unknown datetime format \"{0}\" (expected rfc3339, epoch_millis, epoch_seconds, date, xero_date or a strftime pattern containing `%`)"
    )]
    UnknownDateFormat(String),
    /// A strftime pattern chrono rejects.
    #[error("invalid strftime pattern \"{0}\"")]
    BadDatePattern(String),
    /// An `enum` table key that is a list/map/null.
    #[error("enum table keys must be strings, numbers or booleans, found {0}")]
    EnumKeyNotScalar(String),
    /// `lines` on a path that does not name an array.
    #[error("`lines` needs a path naming the array itself (like `lines`), not \"{0}\"")]
    LinesNotArray(String),
    /// Two rules write overlapping targets in the same direction.
    #[error("{direction} target \"{path}\" is also written by {other}")]
    DuplicateTarget {
        /// The direction in which both write.
        direction: Direction,
        /// This rule's target path.
        path: String,
        /// The other rule, e.g. `fields[1] (hub "email")`.
        other: String,
    },
    /// A reference path that a plain field also maps.
    #[error("reference {side} path \"{path}\" is also mapped by {other}")]
    ReferenceIsField {
        /// `hub` or `app`.
        side: &'static str,
        /// The shared path.
        path: String,
        /// The field rule.
        other: String,
    },
    /// The hub and app paths fan out (`[]`) a different number of times.
    #[error("hub path has {hub} `[]` segment(s) but app path has {app}; they must match")]
    FanOutMismatch {
        /// `[]` count on the hub side.
        hub: usize,
        /// `[]` count on the app side.
        app: usize,
    },
    /// Options that cannot be combined or do not apply.
    #[error("{0}")]
    Conflict(String),
    /// The rule does not deserialize (unknown key, wrong type, ...).
    #[error("{0}")]
    Invalid(String),
}

/// An error loading or validating an [`EntityMapping`](crate::EntityMapping).
///
/// Every variant names the origin (file name, or `<builder>`/the origin given
/// to `from_*_str`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MappingError {
    /// The file could not be read.
    #[error("{origin}: cannot read mapping file: {source}")]
    Io {
        /// The file path.
        origin: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A mapping override directory that cannot be listed (see
    /// [`MappingSet::load`](crate::MappingSet::load)).
    #[error("{origin}: cannot read mapping directory: {source}")]
    ReadDir {
        /// The directory path.
        origin: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file in a mapping override directory that overrides no built-in
    /// mapping, e.g. a misspelt name (see
    /// [`MappingSet::load`](crate::MappingSet::load)).
    #[error("{origin}: unknown {app} mapping file{hint}; expected one of: {}", expected.join(", "))]
    UnknownFile {
        /// The file path.
        origin: String,
        /// The app whose mappings are loaded, e.g. `hubspot`.
        app: String,
        /// The file name as found.
        file: String,
        /// The built-in file names, in order.
        expected: Vec<String>,
        /// ` (did you mean "…"?)` or empty.
        hint: String,
    },
    /// `from_file` on something other than `.yaml`, `.yml` or `.json`.
    #[error("{origin}: unsupported mapping file extension (expected .yaml, .yml or .json)")]
    UnsupportedExtension {
        /// The file path.
        origin: String,
    },
    /// YAML/JSON syntax error.
    #[error("{origin}:{line}:{column}: syntax error: {message}")]
    Syntax {
        /// The file name.
        origin: String,
        /// One-based line (0 if unknown).
        line: usize,
        /// One-based column (0 if unknown).
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// A problem with the document outside any single rule.
    #[error("{origin}: {message}")]
    Document {
        /// The file name.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// A problem with one rule.
    #[error("{origin}: {location}: {problem}")]
    Rule {
        /// The file name.
        origin: String,
        /// Which rule (boxed to keep `Result`s small).
        location: Box<RuleLocation>,
        /// What is wrong.
        problem: Box<RuleProblem>,
    },
}

/// Which side of the mapping a record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The Connec! hub record.
    Hub,
    /// The application record.
    App,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Hub => "hub",
            Side::App => "app",
        })
    }
}

/// An error while mapping one record.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MapError {
    /// The input record (or a `lines` element) is not a JSON object.
    #[error("{context}: expected {side} record to be an object, found {found}")]
    NotAnObject {
        /// `record` or the lines field with element index.
        context: String,
        /// Which side was being read.
        side: Side,
        /// The JSON type found.
        found: &'static str,
    },
    /// One rule failed; `hub`/`app` carry the paths (with the element index
    /// when inside `lines`, e.g. `lines[2].quantity`).
    #[error("field `{hub}` (app `{app}`): {problem}")]
    Field {
        /// Hub path of the failing rule.
        hub: String,
        /// App path of the failing rule.
        app: String,
        /// The direction being mapped.
        direction: Direction,
        /// What went wrong.
        problem: TransformError,
    },
}

/// Why a value could not be transformed or written.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TransformError {
    /// A string that is not a valid number/integer/boolean.
    #[error("cannot parse {value} as {target}")]
    Parse {
        /// The value as JSON text (strings keep their quotes).
        value: String,
        /// `a number`, `an integer`, `a boolean`.
        target: &'static str,
    },
    /// A value of the wrong JSON type for the transform.
    #[error("{transform} cannot convert {found} {value}")]
    Type {
        /// The transform name.
        transform: &'static str,
        /// The JSON type found.
        found: &'static str,
        /// The value as JSON text.
        value: String,
    },
    /// A value absent from an `enum` table without `fallback`.
    #[error("{value} is not in the enum table (and there is no fallback)")]
    UnknownEnumValue {
        /// The value as JSON text.
        value: String,
    },
    /// A value that does not parse as the `from` datetime format.
    #[error("cannot read {value} as a {format} date/time")]
    DateParse {
        /// The value as JSON text.
        value: String,
        /// The format name or pattern.
        format: String,
    },
    /// A datetime that cannot be represented in the `to` format.
    #[error("cannot write date/time as {format}")]
    DateFormat {
        /// The format name or pattern.
        format: String,
    },
    /// A registered custom function returned an error.
    #[error("custom function \"{name}\" failed: {message}")]
    Custom {
        /// The function name.
        name: String,
        /// Its message.
        message: String,
    },
    /// A `lines` source that is not an array.
    #[error("expected an array for lines, found {found}")]
    NotAnArray {
        /// The JSON type found.
        found: &'static str,
    },
    /// The target path runs through a non-container value.
    #[error("cannot write through `{at}`: it is {found}")]
    WriteConflict {
        /// The path prefix that is in the way.
        at: String,
        /// Its JSON type.
        found: &'static str,
    },
}
