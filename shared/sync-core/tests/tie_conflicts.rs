//! [`decide`] on the conflicts the chaos suite met at a same-millisecond tie: under most recent
//! an exact tie goes to the hub in both directions, one millisecond either way decides it.

use sync_core::domain::{
    AppId, ConflictPolicy, ContentHash, Direction, EntityName, HubId, IdMap, OrgId, Timestamp,
    Winner,
};
use sync_core::engine::{Content, Decision, Incoming, Rules, Target, decide};

fn at(ms: i64) -> Timestamp {
    Timestamp::parse(&format!("2026-12-02T00:00:00.{ms:03}Z")).expect("timestamp")
}

fn hash(text: &str) -> ContentHash {
    ContentHash::from_hex(text)
}

fn rules(direction: Direction) -> Rules {
    Rules {
        direction,
        history_from: None,
        can_create: true,
        can_update: true,
        can_archive: true,
        can_update_source: true,
        policy: ConflictPolicy::MostRecent,
    }
}

fn link() -> IdMap {
    let mut map = IdMap::new(OrgId::new("org"), EntityName::new("people"));
    map.hub_id = Some(HubId::new("h1"));
    map.app_id = Some(AppId::new("a1"));
    map
}

/// `incoming` (at `incoming_ms`) against the other side's `theirs` (at `their_ms`).
fn decided(
    map: &IdMap,
    direction: Direction,
    (incoming_hash, incoming_ms): (&str, i64),
    (their_hash, their_ms): (&str, i64),
) -> Decision {
    let incoming = Incoming {
        updated_at: at(incoming_ms),
        created_at: None,
        deleted: false,
        content: Content::Hash(hash(incoming_hash)),
    };
    let target = Target::Current {
        updated_at: at(their_ms),
        content: Content::Hash(hash(their_hash)),
    };
    decide(&incoming, Some(map), &target, &rules(direction))
}

#[test]
fn an_exact_tie_goes_to_the_hub_in_both_directions() {
    let mut map = link();
    map.hash = Some(hash("old"));
    map.hub_updated_at = Some(at(100));
    map.app_updated_at = Some(at(100));
    assert_eq!(
        decided(&map, Direction::ToApp, ("hub", 200), ("app", 200)),
        Decision::Update {
            conflict: Some(Winner::Hub)
        }
    );
    assert_eq!(
        decided(&map, Direction::ToHub, ("app", 200), ("hub", 200)),
        Decision::PushBack {
            winner: Winner::Hub
        }
    );
    // One millisecond either way decides it.
    assert_eq!(
        decided(&map, Direction::ToHub, ("app", 201), ("hub", 200)),
        Decision::Update {
            conflict: Some(Winner::App)
        }
    );
    assert_eq!(
        decided(&map, Direction::ToApp, ("hub", 200), ("app", 201)),
        Decision::PushBack {
            winner: Winner::App
        }
    );
}

/// With no hash (a link rebuilt from external ids), the incoming version goes through: there
/// is nothing to compare with.
#[test]
fn a_bare_link_lets_the_incoming_version_through() {
    let map = link();
    assert_eq!(
        decided(&map, Direction::ToApp, ("hub", 200), ("app", 205)),
        Decision::Update { conflict: None }
    );
}
