//! AWS adapters: the ports of the sync framework on DynamoDB, Secrets Manager and EventBridge.
//!
//! The same ports the embedded (SQLite) backend implements locally, with the same semantics:
//!
//! | Port | Adapter | Service |
//! |---|---|---|
//! | [`sync_core::ports::SyncStore`] | [`DynamoStore`] | DynamoDB, one table |
//! | [`linking::CredentialStore`] | [`SecretsCredentialStore`] | Secrets Manager, one secret per linked account |
//! | [`linking::AuthorizationStateStore`] | [`DynamoAuthorizationStateStore`] | DynamoDB (same table) |
//! | [`sync_core::ports::Dedupe`] | [`DynamoDedupe`] | DynamoDB (same table) |
//! | [`sync_core::ports::EventBus`] | [`EventBridgeBus`] | EventBridge, a custom bus |
//!
//! Configuration comes from the environment ([`AwsConfig::from_env`]: `TABLE_NAME`,
//! `EVENT_BUS_NAME`, `SECRETS_PREFIX`); the SDK's own settings (region, credentials,
//! `AWS_ENDPOINT_URL` for a local emulator) are read by `aws-config`.
//!
//! # The table
//!
//! One table, generic string keys `PK` (partition) and `SK` (sort), one overloaded global
//! secondary index `GSI1` (`GSI1PK`/`GSI1SK`, all attributes projected) used for listings only,
//! and TTL on `expires_at` (epoch **seconds**). Key components are escaped (`%` -> `%25`,
//! `#` -> `%23`) so that an id containing `#` can never collide with another key.
//!
//! | Item | `PK` | `SK` | `GSI1PK` / `GSI1SK` | TTL `expires_at` | Notes |
//! |---|---|---|---|---|---|
//! | Organization | `ORG#<org>` | `ORG` | `ORGS` / `<org>` | - | `list_organizations` is a Query on GSI1 (pages of 1 MB, 100,000 orgs fine) |
//! | Organization link | `LINK#<tenant>#<group>#<provider>` | `LINK` | - | - | `org`: the one organization of this group for this app, written with it |
//! | Id-map with a hub id (the record) | `MAP#<org>#<entity>#HUB#<hub_id>` | `MAP` | `MAPS#<org>` / `<entity>#<created_seq>#<PK>` | - | all id-map fields, `ver`, `created_seq` (epoch ms x 10,000 + position in the batch) |
//! | App-id uniqueness pointer | `MAP#<org>#<entity>#APP#<app_id>` | `MAP` | - | - | `kind=pointer`, `hub_id`: the app id is taken by this hub id |
//! | Half-known id-map (app id only) | `MAP#<org>#<entity>#APP#<app_id>` | `MAP` | `MAPS#<org>` / `<entity>#<created_seq>#<PK>` | - | `kind=record`: the record lives under its app item until a hub id is known |
//! | Watermark | `ORG#<org>` | `WM#<entity>#<side>` | - | - | `mark` (epoch ms) |
//! | Page checkpoint | `ORG#<org>` | `CKPT#<entity>#<side>` | - | - | `cursor`, `fetch_start` (epoch ms) |
//! | Pending record | `ORG#<org>` | `PENDING#<entity>#<side>#<source_id>` | - | - | Query by `begins_with(SK)` |
//! | Run | `RUN#<run>` | `RUN` | - | - | the run, for `get_run` |
//! | Run (listing copy) | `RUNS#<org>` | `<started_ms, 15 digits>#<run>` | - | - | `recent_runs` = Query, newest first; older than the newest 100 deleted on save |
//! | Sync lease | `LEASE#<org>` | `LEASE` | - | lease expiry + 1 day | `owner`, `expires_at_ms` |
//! | OAuth state | `OAUTH#STATE#<sha256(state)>` | `STATE` | - | state expiry | consumed once by a conditional delete returning `ALL_OLD` |
//! | Webhook dedupe key | `DEDUPE#<key>` | `DEDUPE` | - | key expiry | conditional put |
//!
//! Every item that carries a TTL also carries the exact expiry in epoch milliseconds
//! (`expires_at_ms`) and conditions compare against it: TTL deletion is lazy (typically within
//! 48 hours), so an expired item may still be read and is then treated as absent.
//!
//! ## Id-maps: uniqueness without a GSI
//!
//! `(org, entity, hub id)` and `(org, entity, app id)` are both unique. DynamoDB cannot enforce
//! that through an index (GSIs are eventually consistent and a condition only tests the item it
//! writes), so each unique value owns an item of its own:
//!
//! - a map **with a hub id** is stored under its hub item; if it also has an app id, the app
//!   item holds a *pointer* to the hub id;
//! - a map **with only an app id** (half-known) is stored under its app item (`kind=record`);
//! - a map with neither id is refused ([`sync_core::error::StoreError::Conflict`]).
//!
//! [`DynamoStore`]'s `save_idmaps` reads every item the batch touches (a strongly consistent
//! `BatchGetItem`), applies the embedded store's rules to that snapshot in order (fill a missing
//! side, never replace or clear a stored id, merge a hub-only and an app-only row that a map
//! links: the app record becomes a pointer to the hub record, which keeps its creation order),
//! and writes the resulting items with `TransactWriteItems`. Each write is conditioned on what
//! was read: `attribute_not_exists(PK)` for an item that did not exist, `ver = :read` (an
//! optimistic version number) otherwise. Two concurrent writers mapping one app id to two hub
//! ids both try to create the same pointer item: one transaction wins, the other is cancelled,
//! re-reads, and now fails with the same conflict message the embedded store gives. Pointers
//! never change once written (stored ids are never replaced), so an unchanged pointer is not
//! rewritten.
//!
//! A transaction holds at most 100 items. A batch whose items fit (up to 50 fully linked maps)
//! is atomic. A larger batch is **validated as a whole before anything is written** (a rule
//! broken anywhere writes nothing), then written in several transactions of at most 100 items,
//! each map's items always in the same one: atomicity against a *concurrent* writer is then per
//! transaction. A cancelled transaction is retried after re-reading (at most 5 times).
//!
//! `list_idmaps` pages through GSI1 (`MAPS#<org>`, optionally `begins_with(GSI1SK, "<entity>#")`),
//! ordered by entity then creation time; the offset is skipped client-side (the items are read),
//! and like every GSI read it is eventually consistent: it is meant for status screens and
//! exports, never for deciding a write.
//!
//! `purge_sync_state` (unlink with purge) lists the organization's id-map records the same way,
//! deletes each record's hub item and app item (record or pointer), then its watermark,
//! checkpoint and pending items (strongly consistent queries of `ORG#<org>`). It is meant for an
//! organization whose sync is already off; a map written a moment before the purge may be missed
//! by the index and can be purged again.
//!
//! ## Organizations: one per app per group
//!
//! A group links one account of each app, so `(tenant, group, provider)` is unique; its link
//! item holds the organization that has it. `put_organization` reads the organization and the
//! link item (strongly consistent) and writes both in one `TransactWriteItems`: the
//! organization conditioned on the link it had when read (or on being absent), the link item on
//! naming what was read (nobody, this organization, or a stale holder: one whose organization
//! is gone or holds another link), plus the delete of its old link item when it moves to another
//! group or app. Another organization holding the link fails with
//! [`sync_core::error::StoreError::Conflict`] naming the group and the app; a cancelled
//! transaction is re-read and retried (at most 5 times). [`DynamoStore::delete_organization`]
//! deletes an organization with its link item.
//!
//! Tables written before link items: an organization without one reads, lists and syncs as
//! before and gets its link item on its next put (a relink, a settings change). Until then it
//! does not hold its place, and a second organization for its group and app would be accepted
//! (linking does not create one: it reuses the group's organization for the app). If a table
//! already holds two, the first one put again keeps the place and the other's puts are refused
//! until it moves.
//!
//! ## Runs and leases
//!
//! A run is written twice in one transaction (by id, and in its organization's listing); when a
//! new run is saved, the listing is read newest first and everything after the 100th is deleted
//! (both copies). A lease is a conditional put (`attribute_not_exists(PK) OR expires_at_ms <= :now
//! OR owner = :me`); renew and release are conditional on the owner.
//!
//! # Testing
//!
//! `cargo test -p store-aws` runs against moto over real HTTP with the real SDK clients. The tests
//! use `MOTO_ENDPOINT` when it is set, otherwise start `.venv/bin/moto_server`'s code on a free
//! loopback port themselves; `infra/scripts/moto.sh --install-only` creates `.venv` with
//! `moto[server]`. moto is run serving one request at a time: threaded moto does not lock a
//! transaction between its condition checks and its writes, so racing writers could both win there,
//! which DynamoDB never allows. Each test uses its own table, bus and secrets prefix.
//!
//! # Secrets and logs
//!
//! Nothing here logs or puts into an error a token, a state, a PKCE verifier or record content:
//! errors name the operation, the table / secret name and the service's error code.

mod attr;
mod bus;
mod config;
mod error;
mod idmap_items;
mod idmaps;
mod leases;
mod orgs;
mod progress;
mod requests;
mod runs;
mod secrets;
mod state;
mod store;
mod table;
#[cfg(feature = "testing")]
pub mod testing;

pub use bus::{DETAIL_TYPE_APP_CHANGES, DETAIL_TYPE_HUB_RECORDS, DETAIL_TYPE_SYNC, EVENT_SOURCE};
pub use bus::{EventBridgeBus, MAX_ENTRY_BYTES};
pub use config::{AwsConfig, ConfigError, load_sdk_config};
pub use runs::RUNS_KEPT;
pub use secrets::{DEFAULT_CACHE_TTL, SecretsCredentialStore};
pub use state::{DynamoAuthorizationStateStore, DynamoDedupe};
pub use store::DynamoStore;
pub use table::create_table;
