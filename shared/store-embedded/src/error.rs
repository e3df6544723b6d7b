//! Errors inside a store operation ([`Fail`]) and how they become the port's [`StoreError`]:
//! a broken uniqueness rule is a conflict, an undecodable stored value is corruption, anything
//! else is a backend failure. Messages name the operation, never record content.

use sync_core::error::StoreError;

/// An error inside a store operation, turned into a [`StoreError`] with the operation's name.
#[derive(Debug)]
pub(crate) enum Fail {
    Sql(rusqlite::Error),
    Store(StoreError),
}

impl From<rusqlite::Error> for Fail {
    fn from(value: rusqlite::Error) -> Self {
        Fail::Sql(value)
    }
}

impl From<StoreError> for Fail {
    fn from(value: StoreError) -> Self {
        Fail::Store(value)
    }
}

impl Fail {
    pub(crate) fn into_store(self, op: &str) -> StoreError {
        match self {
            Fail::Store(StoreError::Corrupt(message)) => {
                StoreError::Corrupt(format!("{op}: {message}"))
            }
            Fail::Store(StoreError::Backend(message)) => {
                StoreError::Backend(format!("{op}: {message}"))
            }
            Fail::Store(kept @ (StoreError::Conflict(_) | StoreError::TooLarge(_))) => kept,
            Fail::Sql(error) => sql_error(op, error),
        }
    }
}

/// Classifies a rusqlite error: uniqueness -> conflict, undecodable value -> corrupt, else backend.
pub(crate) fn sql_error(op: &str, error: rusqlite::Error) -> StoreError {
    use rusqlite::Error as E;
    use rusqlite::ffi;
    match &error {
        E::SqliteFailure(failure, _)
            if failure.extended_code == ffi::SQLITE_CONSTRAINT_UNIQUE
                || failure.extended_code == ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            StoreError::Conflict(format!("{op}: uniqueness rule broken: {error}"))
        }
        E::FromSqlConversionFailure(..)
        | E::IntegralValueOutOfRange(..)
        | E::Utf8Error(..)
        | E::InvalidColumnType(..) => {
            StoreError::Corrupt(format!("{op}: undecodable stored value: {error}"))
        }
        _ => StoreError::Backend(format!("{op}: {error}")),
    }
}

pub(crate) fn corrupt(message: String) -> Fail {
    Fail::Store(StoreError::Corrupt(message))
}

pub(crate) fn conflict(message: String) -> Fail {
    Fail::Store(StoreError::Conflict(message))
}
