//! The emulator's configuration ([`HubSpotConfig`]): tokens and portal, limits, the OAuth
//! app, webhook delivery and the shuffling of answers.

use std::time::Duration;

#[cfg(doc)]
use super::HubSpotEmulator;
use super::OAuthApp;
use crate::common::RateLimit;

/// Configuration of a [`HubSpotEmulator`].
#[derive(Clone, Debug)]
pub struct HubSpotConfig {
    /// Accepted private-app bearer tokens; they never expire. Tokens issued
    /// through [`HubSpotConfig::oauth`] are accepted in addition.
    pub access_tokens: Vec<String>,
    /// The default portal (hub): `access_tokens`, the in-process helpers and
    /// OAuth consents (unless [`HubSpotEmulator::consent_as_portal`]) belong
    /// to it. More portals share the emulator through
    /// [`HubSpotEmulator::add_private_app_token`] and OAuth; each portal has
    /// its own records, and a token only sees its own portal's.
    pub portal_id: u64,
    /// Optional rolling-window rate limit per token.
    pub rate_limit: Option<RateLimit>,
    /// Search paging cap (HubSpot: 10,000).
    pub search_cap: usize,
    /// Max inputs per batch call.
    pub max_batch: usize,
    /// Max `limit` of a search.
    pub max_search_limit: usize,
    /// Max `limit` of a list.
    pub max_list_limit: usize,
    /// The OAuth app (authorization server and webhooks). Default `None`:
    /// no OAuth and no webhooks, only the static tokens.
    pub oauth: Option<OAuthApp>,
    /// How often pending webhook events are sent. Default 50 ms.
    pub webhook_interval: Duration,
    /// Max events per webhook POST. Default 100 (as HubSpot).
    pub webhook_batch_size: usize,
    /// Attempts per webhook batch, the first included. Default 3.
    pub webhook_max_attempts: u32,
    /// Wait before the first retry, doubled for each further one. Default 100 ms.
    pub webhook_backoff: Duration,
    /// Per-request timeout of a webhook POST. Default 5 s.
    pub webhook_timeout: Duration,
    /// With a seed, batch answers (`batch/create|read|update|upsert`) list their results in a
    /// shuffled order (never the input order), and search results that tie on every sort key
    /// come in a shuffled order too: HubSpot promises neither order. Default `None`: input
    /// order, ties by id.
    pub shuffle_seed: Option<u64>,
}

impl Default for HubSpotConfig {
    fn default() -> Self {
        Self {
            access_tokens: vec!["demo-token".into()],
            portal_id: 62515,
            rate_limit: None,
            search_cap: 10_000,
            max_batch: 100,
            max_search_limit: 200,
            max_list_limit: 100,
            oauth: None,
            webhook_interval: Duration::from_millis(50),
            webhook_batch_size: 100,
            webhook_max_attempts: 3,
            webhook_backoff: Duration::from_millis(100),
            webhook_timeout: Duration::from_secs(5),
            shuffle_seed: None,
        }
    }
}
