//! The three functions: their binaries, sizes, and the first event each is handed (from
//! `events/`, made unique per run so that no run is answered from an earlier run's dedupe
//! claim or fan-out key).

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use sync_core::domain::{GroupId, Tenant, Timestamp};

use crate::BenchError;
use crate::cloud::{GROUP, LAUNCH_SECRET, TENANT};

/// One of the three functions of template.yaml.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FunctionKind {
    /// `functions/oauth-callback` (OAuthCallbackFunction).
    OAuthCallback,
    /// `functions/webhook` (WebhookFunction).
    Webhook,
    /// `functions/sync` (SyncFunction).
    Sync,
}

impl FunctionKind {
    /// All three, in the template's order.
    pub const ALL: [FunctionKind; 3] = [Self::OAuthCallback, Self::Webhook, Self::Sync];

    /// The binary's (and crate's) name.
    pub fn binary_name(self) -> &'static str {
        match self {
            Self::OAuthCallback => "oauth-callback",
            Self::Webhook => "webhook",
            Self::Sync => "sync",
        }
    }

    /// Parses a binary name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.binary_name() == name)
    }

    /// The deployed name (`<stack>-<binary>`).
    pub fn deployed_name(self) -> String {
        format!("connector-framework-{}", self.binary_name())
    }

    /// Memory in MB, as template.yaml gives it (the sync function's parameter default).
    pub fn memory_mb(self) -> u32 {
        match self {
            Self::Sync => 512,
            _ => 256,
        }
    }

    /// The invocation's timeout (template.yaml: 10 s, the sync function's 900 s).
    pub fn timeout(self) -> Duration {
        match self {
            Self::Sync => Duration::from_secs(900),
            _ => Duration::from_secs(10),
        }
    }

    /// The first event of run `run`: the sync function an hourly schedule tick (its own
    /// `scheduled_time`), the webhook function a Connec! notification (its records' own
    /// `updated_at`), the OAuth function a launch of the connector's page with a fresh token.
    ///
    /// # Errors
    ///
    /// [`BenchError::Setup`] when the fixture cannot be read.
    pub fn event(self, events_dir: &Path, run: usize) -> Result<Value, BenchError> {
        let minute = i64::try_from(run).unwrap_or(0);
        let instant = chrono::DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .map_err(|e| BenchError::Setup(e.to_string()))?
            + chrono::Duration::minutes(minute);
        let stamp = instant.to_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        match self {
            Self::Sync => {
                let mut event = fixture(events_dir, "schedule-tick.json")?;
                event["time"] = json!(stamp);
                event["detail"]["scheduled_time"] = json!(stamp);
                Ok(event)
            }
            Self::Webhook => {
                let mut event = fixture(events_dir, "webhook-connec.json")?;
                let body = event["body"].as_str().unwrap_or_default();
                let mut notification: Value = serde_json::from_str(body)
                    .map_err(|e| BenchError::Setup(format!("webhook-connec.json body: {e}")))?;
                let updated = instant
                    .to_utc()
                    .format("%Y-%m-%dT%H:%M:%S.000Z")
                    .to_string();
                for collection in ["people", "organizations"] {
                    if let Some(records) = notification[collection].as_array_mut() {
                        for record in records {
                            record["updated_at"] = json!(updated);
                        }
                    }
                }
                let body = notification.to_string();
                event["headers"]["content-length"] = json!(body.len().to_string());
                event["body"] = json!(body);
                Ok(event)
            }
            Self::OAuthCallback => {
                let mut event = fixture(events_dir, "connector-launch.json")?;
                let secret = access::LaunchSecret::new(LAUNCH_SECRET)
                    .map_err(|e| BenchError::Setup(e.to_string()))?;
                let claims = access::LaunchClaims::new(
                    &Tenant::new(TENANT),
                    &GroupId::new(GROUP),
                    "usr-bench",
                    Timestamp::from_datetime(chrono::Utc::now()),
                    Duration::from_secs(300),
                );
                let token = access::LaunchToken::mint(&secret, &claims);
                event["rawQueryString"] = json!(format!("token={token}"));
                event["queryStringParameters"] = json!({ "token": token });
                Ok(event)
            }
        }
    }

    /// Whether `answer` (the function's response document) is what this event should get:
    /// the fan-out queueing the one linked organization, the webhook's acceptance, the
    /// launch's redirect to the page.
    pub fn answer_ok(self, answer: &Value) -> bool {
        match self {
            Self::Sync => answer["fan_out"].as_u64() == Some(1),
            Self::Webhook => answer["statusCode"]
                .as_u64()
                .is_some_and(|s| (200..300).contains(&s)),
            Self::OAuthCallback => answer["statusCode"].as_u64() == Some(303),
        }
    }
}

fn fixture(dir: &Path, name: &str) -> Result<Value, BenchError> {
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| BenchError::Setup(format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| BenchError::Setup(format!("{}: {e}", path.display())))
}
