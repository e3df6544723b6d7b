//! Stateful, in-memory, deterministic emulators of the Connec! API v2, the
//! HubSpot CRM v3 API (contacts and companies) and the Xero Accounting API
//! (contacts, items, invoices, payments; OAuth 2.0 and webhooks, see [`xero`]).
//!
//! They exist so that the sync framework can be tested, benchmarked and
//! demonstrated without network access or vendor accounts: each emulator is a
//! real HTTP server on loopback (axum), so the production HTTP clients are
//! exercised unchanged except for their base URL.
//!
//! Both emulators offer:
//! - seeding and third-party edits in-process ([`ConnecEmulator::seed`],
//!   [`HubSpotEmulator::update`], ...),
//! - fault injection ([`Faults`], [`RecordFault`], [`CallFault`]) in-process
//!   and over HTTP under `/_emulator/...`,
//! - call statistics ([`CallStats`]),
//! - a change-observer seam ([`ChangeHook`]),
//! - outbound change delivery to loopback receivers, run by a background
//!   tokio task spawned on demand (see below).
//!
//! # Real time and account linking
//!
//! - HubSpot: an OAuth 2.0 authorization server for one app ([`OAuthApp`]:
//!   authorization code with PKCE S256, refresh tokens, optionally single-use,
//!   expiring access tokens answered with `401 EXPIRED_AUTHENTICATION`) and
//!   the Webhooks API v3 with signed (`X-HubSpot-Signature-v3`), batched,
//!   retried deliveries ([`HubSpotEmulator::flush_webhooks`],
//!   [`HubSpotEmulator::deliveries`], ...). See [`hubspot`].
//! - Connec!: notifications of every committed change to
//!   [`NotificationSubscriber`]s, one POST per subscriber per interval,
//!   grouped by collection, with HTTP Basic auth
//!   ([`ConnecEmulator::flush_notifications`], ...). See [`connec`].
//!
//! Deliveries need a tokio runtime: the background task is spawned from the
//! first change that produces something to send while a runtime is current.
//! Without one (plain `#[test]`), items wait until `flush_*().await`.
//! Tests that want determinism can `pause_*(true)`, make changes, then
//! unpause and `flush_*().await`. Nothing is logged about URLs, bodies,
//! tokens, codes, secrets or signatures.
//!
//! Timestamps are real UTC time with millisecond precision, never going backwards per
//! emulator; writes in one millisecond share it, as with the real APIs (a clock that made
//! every stamp later than the last would run ahead of real time after a burst, and put
//! records after every watermark a client takes). A change of a record still stamps it later
//! than its previous stamp, so a change is always seen as one (only a record written several
//! times within one millisecond runs ahead of real time: a millisecond per extra write). Every order the emulators page on is
//! still total and deterministic: ties on a timestamp are broken by a write or creation
//! sequence number, or by the id (`tests/real_time_stamps.rs`).
//!
//! # Scale
//!
//! Lists and searches are served from indexes kept up to date by every write,
//! so that a page costs `O(log N + page)` at a million records: Connec! listings
//! from a ranked index per `$filter`/`$orderby` (`connec::views`) and `eq`
//! lookups from equality indexes; HubSpot searches from a ranked last-modified
//! index and per-property value indexes; Xero pages since a date from a ranked
//! modification index, and its writes' lookups (names, numbers, codes) from hash
//! indexes. Answers are those of a filter-and-sort over every record, ties
//! included (`tests/connec_list_indexes.rs`, `tests/search_list_indexes.rs`);
//! `cargo bench -p emulators` prints page latencies at 10k, 100k and 1M records.

mod common;
pub mod connec;
mod delivery;
pub mod hubspot;
pub mod xero;

pub use common::{
    CallFault, CallStats, ChangeEvent, ChangeHook, ChangeKind, FaultKind, Faults, RateLimit,
    RecordFault, RunningServer,
};
pub use connec::{ConnecConfig, ConnecEmulator, NotificationRecord, NotificationSubscriber};
pub use hubspot::{DeliveryRecord, HubSpotConfig, HubSpotEmulator, OAuthApp};
pub use xero::{
    IntentProbe, IntentToReceive, SeedError, TenantConfig, WebhookTarget, XeroApp, XeroConfig,
    XeroDeliveryRecord, XeroEmulator, XeroLimits, XeroTokens,
};
