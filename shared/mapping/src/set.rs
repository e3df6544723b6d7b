//! [`MappingSet`]: an app's mappings, loaded from the texts built into its
//! connector, each optionally overridden by a user file of the same name in
//! a directory. The only place besides [`EntityMapping::from_file`] that
//! touches the file system.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use crate::error::MappingError;
use crate::load::Syntax;
use crate::mapping::EntityMapping;
use crate::suggest;
use crate::transform::FunctionRegistry;

/// One mapping file shipped inside a connector, usually with
/// `include_str!`. The file name is both the key of the mapping in its
/// [`MappingSet`] and the name a user's override must have; its extension
/// (`.yaml`, `.yml` or `.json`) picks the syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinMapping {
    /// File name, e.g. `people.yaml`.
    pub file: &'static str,
    /// The mapping text.
    pub text: &'static str,
}

impl BuiltinMapping {
    /// A built-in mapping `file` with contents `text`.
    pub const fn new(file: &'static str, text: &'static str) -> Self {
        BuiltinMapping { file, text }
    }
}

/// The loaded, validated mappings of one app, in the order of its
/// built-ins, each keyed by its file name.
///
/// ```
/// use mapping::{BuiltinMapping, FunctionRegistry, MappingSet};
///
/// const BUILTINS: &[BuiltinMapping] = &[
///     BuiltinMapping::new("people.yaml", "fields: [{ hub: first_name, app: properties.firstname }]"),
///     BuiltinMapping::new("organizations.json", r#"{"fields": [{"hub": "name", "app": "properties.name"}]}"#),
/// ];
///
/// // Without an override directory every mapping is the built-in one.
/// let set = MappingSet::load("hubspot", BUILTINS, None, &FunctionRegistry::new()).unwrap();
/// let people = set.get("people.yaml").unwrap();
/// assert_eq!(people.app_fields_under("properties."), ["firstname"]);
/// assert_eq!(set.origin("people.yaml"), Some("hubspot/people.yaml"));
/// let files: Vec<&str> = set.iter().map(|(file, _)| file).collect();
/// assert_eq!(files, ["people.yaml", "organizations.json"]);
///
/// // A user's file overrides the built-in of the same name...
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("people.yaml"), "fields: [{ hub: email, app: properties.email }]").unwrap();
/// let set = MappingSet::load("hubspot", BUILTINS, Some(dir.path()), &FunctionRegistry::new()).unwrap();
/// assert_eq!(set.get("people.yaml").unwrap().app_fields_under("properties."), ["email"]);
///
/// // ...and a misspelt one is an error, not silently ignored.
/// std::fs::rename(dir.path().join("people.yaml"), dir.path().join("peple.yaml")).unwrap();
/// let err = MappingSet::load("hubspot", BUILTINS, Some(dir.path()), &FunctionRegistry::new()).unwrap_err();
/// assert!(err.to_string().ends_with(
///     r#"peple.yaml: unknown hubspot mapping file (did you mean "people.yaml"?); expected one of: people.yaml, organizations.json"#
/// ));
/// ```
#[derive(Debug, Clone)]
pub struct MappingSet {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone)]
struct Entry {
    file: &'static str,
    origin: String,
    mapping: EntityMapping,
}

impl MappingSet {
    /// Loads and validates every built-in mapping of `app` (e.g. `hubspot`),
    /// in order.
    ///
    /// With `dir`, a file `dir/<file>` replaces the built-in `<file>`: it is
    /// read (I/O errors: [`MappingError::Io`]) and parsed with the file's
    /// path as origin. Every other mapping is parsed from its built-in text
    /// with origin `<app>/<file>`, so every error names the file it comes
    /// from. Names in `dir` that end in `.yaml`, `.yml` or `.json` (any case)
    /// and match no built-in exactly are an error
    /// ([`MappingError::UnknownFile`], with a "did you mean" hint); other
    /// names (`README.md`) and hidden ones (`.people.yaml.swp`, Kubernetes'
    /// `..data`) are ignored. A `dir` that cannot be listed (e.g. does not
    /// exist) is [`MappingError::ReadDir`]. The directory is checked before
    /// anything is parsed, and the first problem (in file-name order) is
    /// returned.
    pub fn load(
        app: &str,
        builtins: &[BuiltinMapping],
        dir: Option<&Path>,
        functions: &FunctionRegistry,
    ) -> Result<Self, MappingError> {
        for (i, b) in builtins.iter().enumerate() {
            if builtins[..i].iter().any(|prev| prev.file == b.file) {
                return Err(MappingError::Document {
                    origin: format!("{app}/{}", b.file),
                    message: "listed twice among the built-in mappings".into(),
                });
            }
        }
        let overrides = match dir {
            Some(dir) => overrides(app, builtins, dir)?,
            None => Vec::new(),
        };
        let mut entries = Vec::with_capacity(builtins.len());
        for b in builtins {
            let builtin_origin = format!("{app}/{}", b.file);
            let Some(syntax) = Syntax::of(Path::new(b.file)) else {
                return Err(MappingError::UnsupportedExtension {
                    origin: builtin_origin,
                });
            };
            let (text, origin) = match overrides.iter().find(|(file, _)| *file == b.file) {
                Some((_, path)) => {
                    let origin = path.display().to_string();
                    let text =
                        std::fs::read_to_string(path).map_err(|source| MappingError::Io {
                            origin: origin.clone(),
                            source,
                        })?;
                    (Cow::Owned(text), origin)
                }
                None => (Cow::Borrowed(b.text), builtin_origin),
            };
            let mapping = EntityMapping::from_source(&text, &origin, syntax, functions)?;
            entries.push(Entry {
                file: b.file,
                origin,
                mapping,
            });
        }
        Ok(MappingSet { entries })
    }

    /// The mapping loaded for built-in `file` (e.g. `people.yaml`).
    pub fn get(&self, file: &str) -> Option<&EntityMapping> {
        self.entry(file).map(|e| &e.mapping)
    }

    /// Where the mapping for `file` came from: the override's path, or
    /// `<app>/<file>` for the built-in text (the origin its errors named).
    pub fn origin(&self, file: &str) -> Option<&str> {
        self.entry(file).map(|e| e.origin.as_str())
    }

    /// `(file, mapping)` pairs in the order of the built-ins.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &EntityMapping)> {
        self.entries.iter().map(|e| (e.file, &e.mapping))
    }

    /// Number of mappings (one per built-in).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no built-ins.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn entry(&self, file: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.file == file)
    }
}

/// The override files in `dir`, as `(built-in file, path)`; errors on a
/// mapping-like name that overrides nothing.
fn overrides(
    app: &str,
    builtins: &[BuiltinMapping],
    dir: &Path,
) -> Result<Vec<(&'static str, PathBuf)>, MappingError> {
    let dir_err = |source| MappingError::ReadDir {
        origin: dir.display().to_string(),
        source,
    };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(dir_err)? {
        names.push(entry.map_err(dir_err)?.file_name());
    }
    names.sort();
    let mut found = Vec::new();
    for name in names {
        let shown = name.to_string_lossy();
        if shown.starts_with('.') || Syntax::of(Path::new(&name)).is_none() {
            continue;
        }
        let path = dir.join(&name);
        match builtins.iter().find(|b| name.to_str() == Some(b.file)) {
            Some(b) => found.push((b.file, path)),
            None => {
                return Err(MappingError::UnknownFile {
                    origin: path.display().to_string(),
                    app: app.to_string(),
                    hint: file_hint(&shown, builtins),
                    file: shown.into_owned(),
                    expected: builtins.iter().map(|b| b.file.to_string()).collect(),
                });
            }
        }
    }
    Ok(found)
}

/// The built-in a misnamed file was probably meant to be: same name but
/// for the extension or letter case (`people.yml`, `People.yaml`), else
/// within two edits.
fn file_hint(name: &str, builtins: &[BuiltinMapping]) -> String {
    let stem = |f: &str| {
        Path::new(f)
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_lowercase)
    };
    match builtins.iter().find(|b| stem(b.file) == stem(name)) {
        Some(b) => suggest::hint(b.file),
        None => suggest::did_you_mean(name, builtins.iter().map(|b| b.file)),
    }
}
