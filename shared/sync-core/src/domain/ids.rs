//! Identifier types: one per kind of id, so that a hub id can never be passed where an app
//! id is expected.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An id type over `$store` (`String`, or `Arc<str>` for shared text): built from and shown,
/// compared, ordered, hashed and serialized as its text.
macro_rules! id_type {
    ($store:ty, $(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name($store);

        impl $name {
            /// Wraps a raw identifier.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into().into())
            }
            /// The raw identifier.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.into())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer).map(Self::new)
            }
        }
    };
}

/// An id over its own `String`.
macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        id_type!(String, $(#[$doc])* $name);
    };
}

/// An id over shared text: for the ids every id-map, lookup and counter key repeats (one
/// organization, a few entities), so that a copy is a reference count, not an allocation.
macro_rules! shared_id {
    ($(#[$doc:meta])* $name:ident) => {
        id_type!(std::sync::Arc<str>, $(#[$doc])* $name);
    };
}

shared_id!(
    /// Our key for an organization (one Connec! group linked to one app account).
    OrgId
);
string_id!(
    /// A Connec! customer group (`cld-...`), the scope in every hub URL. One that comes from
    /// outside is checked with [`GroupId::parse`].
    GroupId
);
string_id!(
    /// A Connec! record id (the `provider: connec` entry of an id array).
    HubId
);
string_id!(
    /// An external application's record id.
    AppId
);
shared_id!(
    /// A hub collection (`people`, `organizations`); also names an entity pair.
    EntityName
);
string_id!(
    /// An app's entity name (`contacts`, `companies`).
    AppEntityName
);
string_id!(
    /// The app's provider name as it appears in Connec! external ids (`hubspot`).
    Provider
);
string_id!(
    /// The linked app account (HubSpot portal id, Xero tenant id): the `realm` of external ids.
    Realm
);
string_id!(
    /// The tenant (marketplace) whose Connec! credentials are used.
    Tenant
);
string_id!(
    /// One sync run.
    RunId
);

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// The shared ids behave as the `String` ids they were: shown, compared, ordered, hashed
    /// and serialized as their text.
    #[test]
    fn shared_ids_behave_as_their_text() {
        use std::hash::BuildHasher;
        let state = std::collections::hash_map::RandomState::new();
        let texts = ["", "org-1", "people", "é😀", "a\"b"];
        for a in texts {
            let (org, entity) = (OrgId::new(a), EntityName::from(a));
            assert_eq!(org.as_str(), a);
            assert_eq!(entity.to_string(), a);
            assert_eq!(format!("{org:?}"), format!("OrgId({a:?})"));
            assert_eq!(state.hash_one(&entity), state.hash_one(a.to_owned()));
            let json = serde_json::to_string(a).unwrap();
            assert_eq!(serde_json::to_string(&org).unwrap(), json);
            assert_eq!(serde_json::from_str::<EntityName>(&json).unwrap(), entity);
            for b in texts {
                assert_eq!(OrgId::new(a) == OrgId::new(b), a == b);
                assert_eq!(EntityName::new(a).cmp(&EntityName::new(b)), a.cmp(b));
            }
        }
        let keyed: BTreeMap<EntityName, u8> = [(EntityName::new("people"), 1)].into();
        let json = serde_json::to_string(&keyed).unwrap();
        assert_eq!(json, r#"{"people":1}"#);
        assert_eq!(
            serde_json::from_str::<BTreeMap<EntityName, u8>>(&json).unwrap(),
            keyed
        );
    }
}
