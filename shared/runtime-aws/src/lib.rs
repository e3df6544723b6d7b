//! What the three Lambda functions share: the connector service wired once per execution
//! environment on DynamoDB, Secrets Manager and EventBridge from the environment. The HTTP
//! functions serve it with the one HTTP router (`http-api`) through `lambda_http::run`, which
//! turns API Gateway events into requests and the router's answers into API Gateway responses.
//!
//! Environment (every missing variable is named in the error):
//! `TABLE_NAME`, `EVENT_BUS_NAME`, `SECRETS_PREFIX` (read by [`store_aws::AwsConfig`]),
//! `TENANT`, `PUBLIC_URL`, `CONNEC_BASE_URL`, and `APPS`, the comma-separated ids of the apps
//! served; each app reads its own `<APP>_*` variables (its factory says which).
//! Secrets (Secrets Manager, never in the environment):
//! `<prefix>/connec/<tenant>` = `{"api_id": "...", "api_key": "..."}`, per app
//! `<prefix>/<app>/client` (a JSON object: the app's client secret and the like), and, for the
//! function that serves the connector's page and linking, `<prefix>/launch/<tenant>` =
//! `{"launch_secret": "..."}` (at least 32 characters; the hub signs launch tokens with it).
//! A cold start reads them all in one `BatchGetSecretValue` call (the functions' policies grant
//! it, with `GetSecretValue` on each secret), and logs where its time went (`cold start wired`,
//! then `ready for the first event`: see [`service_from_env`] and [`log_ready`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

mod ports;
mod secrets;
mod timing;
pub use ports::{Function, NotWired};
use timing::Phases;
pub use timing::{INIT_LOG_MESSAGE, INIT_LOG_TARGET, READY_LOG_MESSAGE, init_tracing, log_ready};

use connector_sdk::{BuildContext, ProviderError, ProviderFactory, Registry};
use serde::Deserialize;
use service::{ConnectorService, HubEndpoint, Ports, ServiceSettings, Tuning};
use store_aws::{
    AwsConfig, DynamoAuthorizationStateStore, DynamoDedupe, DynamoStore, EventBridgeBus,
    SecretsCredentialStore,
};

/// Errors at cold start: configuration or secrets missing.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A variable is missing or invalid.
    #[error("environment: {0}")]
    Env(String),
    /// AWS adapter configuration.
    #[error(transparent)]
    Aws(#[from] store_aws::ConfigError),
    /// A secret is missing or malformed.
    #[error("secret `{name}`: {detail}")]
    Secret {
        /// Secret name.
        name: String,
        /// What is wrong.
        detail: String,
    },
    /// The one call reading the configuration secrets failed as a whole.
    #[error("secrets `{names}`: {detail}")]
    Secrets {
        /// The secrets asked for, separated by `` `, ` ``.
        names: String,
        /// What is wrong.
        detail: String,
    },
    /// Wiring.
    #[error(transparent)]
    Wiring(#[from] service::WiringError),
    /// An app's settings.
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

/// The key that seals pending OAuth states (their PKCE verifiers) on DynamoDB: derived from the
/// launch secret, which every environment of the function that starts and finishes linking
/// reads, so that a start and its callback agree whichever environment runs them.
fn state_sealing_key(
    launch: Option<&service::LaunchSecret>,
) -> Result<linking::SealingKey, SetupError> {
    let launch = launch.ok_or_else(|| {
        SetupError::Env("the function that keeps OAuth states needs the launch secret".into())
    })?;
    Ok(linking::SealingKey::new(
        launch.derived_key("connector oauth state sealing v1"),
    ))
}

fn env(lookup: &dyn Fn(&str) -> Option<String>, name: &str) -> Result<String, SetupError> {
    lookup(name)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| SetupError::Env(format!("{name} is not set")))
}

/// `<prefix>/launch/<tenant>` = `{"launch_secret": "..."}`.
#[derive(Deserialize)]
struct LaunchSecretJson {
    launch_secret: String,
}

#[derive(Deserialize)]
struct ConnecSecret {
    api_id: String,
    api_key: String,
}

/// Builds the service from an SDK configuration and a variable lookup (the environment in
/// Lambda; a map in tests).
pub async fn service_with(
    sdk: &aws_config::SdkConfig,
    lookup: &dyn Fn(&str) -> Option<String>,
    factories: &[Box<dyn ProviderFactory>],
    function: Function,
) -> Result<ConnectorService, SetupError> {
    service_with_clients(
        AwsClients::new(sdk),
        lookup,
        factories,
        function,
        &mut Phases::start(),
    )
    .await
}

/// The three SDK clients every function is wired with.
struct AwsClients {
    dynamo: aws_sdk_dynamodb::Client,
    secrets: aws_sdk_secretsmanager::Client,
    events: aws_sdk_eventbridge::Client,
}

impl AwsClients {
    fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self {
            dynamo: aws_sdk_dynamodb::Client::new(sdk),
            secrets: aws_sdk_secretsmanager::Client::new(sdk),
            events: aws_sdk_eventbridge::Client::new(sdk),
        }
    }
}

async fn service_with_clients(
    clients: AwsClients,
    lookup: &dyn Fn(&str) -> Option<String>,
    factories: &[Box<dyn ProviderFactory>],
    function: Function,
    phases: &mut Phases,
) -> Result<ConnectorService, SetupError> {
    let AwsClients {
        dynamo,
        secrets,
        events,
    } = clients;
    let aws = AwsConfig::from_lookup(lookup)?;
    let tenant = env(lookup, "TENANT")?;
    let prefix = aws.secrets_prefix.clone();
    let apps_named: Vec<&dyn ProviderFactory> = env(lookup, "APPS")?
        .split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(|id| {
            factories
                .iter()
                .find(|f| f.id() == id)
                .map(|f| f.as_ref())
                .ok_or_else(|| {
                    let known: Vec<&str> = factories.iter().map(|f| f.id()).collect();
                    SetupError::Env(format!(
                        "APPS names `{id}`, which is not one of {}",
                        known.join(", ")
                    ))
                })
        })
        .collect::<Result<_, _>>()?;
    let hub_url = env(lookup, "CONNEC_BASE_URL")?;
    let public_url = env(lookup, "PUBLIC_URL")?.trim_end_matches('/').to_owned();
    phases.mark("env");

    // Every secret of the cold start in one call (see `secrets`): Connec!'s credentials, the
    // launch secret (only the function serving the connector's page and linking checks launch
    // tokens), each app's client secret.
    let connec_name = format!("{prefix}/connec/{tenant}");
    let launch_name = function
        .uses_launch_secret()
        .then(|| format!("{prefix}/launch/{tenant}"));
    let app_names: Vec<String> = apps_named
        .iter()
        .map(|factory| format!("{prefix}/{}/client", factory.id()))
        .collect();
    let names: Vec<String> = std::iter::once(connec_name.clone())
        .chain(launch_name.clone())
        .chain(app_names.iter().cloned())
        .collect();
    let values = secrets::read_all(&secrets, &names).await?;
    let text = |name: &str| values.get(name).map(String::as_str).unwrap_or_default();
    let connec: ConnecSecret = secrets::parse(&connec_name, text(&connec_name))?;
    let launch_secret = launch_name
        .as_deref()
        .map(|name| {
            let secret: LaunchSecretJson = secrets::parse(name, text(name))?;
            service::LaunchSecret::new(&secret.launch_secret).map_err(|e| SetupError::Secret {
                name: name.to_owned(),
                detail: e.to_string(),
            })
        })
        .transpose()?;
    let app_secrets = app_names
        .iter()
        .map(|name| secrets::parse::<serde_json::Value>(name, text(name)))
        .collect::<Result<Vec<_>, _>>()?;
    phases.mark("secrets");

    let settings = ServiceSettings {
        hub: HubEndpoint {
            url: hub_url,
            api_id: connec.api_id,
            api_key: connec.api_key,
        },
        tuning: Tuning::default(),
        public_url,
        tenant,
        launch_secret,
    };
    let context = BuildContext {
        public_url: settings.public_url.clone(),
        http: settings.tuning.http.clone(),
        conflict_policy: settings.tuning.conflict_policy,
    };
    let names: Vec<String> = std::env::vars().map(|(name, _)| name).collect();
    let mut apps = Registry::new();
    for (factory, secret) in apps_named.into_iter().zip(app_secrets) {
        let provider = factory.build_from_environment(lookup, &names, secret, &context)?;
        apps.register(provider)
            .map_err(service::WiringError::from)?;
    }
    phases.mark("apps");
    // Each function builds only the ports it uses; the others are `NotWired`.
    let not_wired = |port| NotWired { function, port };
    let ports = Ports {
        store: Arc::new(DynamoStore::new(dynamo.clone(), aws.table_name.clone())),
        credentials: if function.uses_credentials() {
            Arc::new(SecretsCredentialStore::new(secrets, prefix))
        } else {
            Arc::new(not_wired("the credential store"))
        },
        states: if function.uses_states() {
            Arc::new(DynamoAuthorizationStateStore::new(
                dynamo.clone(),
                aws.table_name.clone(),
                state_sealing_key(settings.launch_secret.as_ref())?,
            ))
        } else {
            Arc::new(not_wired("the OAuth state store"))
        },
        dedupe: if function.uses_dedupe() {
            Arc::new(DynamoDedupe::new(dynamo, aws.table_name.clone()))
        } else {
            Arc::new(not_wired("the webhook dedupe store"))
        },
        bus: Arc::new(EventBridgeBus::new(events, aws.event_bus_name.clone())),
    };
    let service = ConnectorService::new(ports, settings, apps)?;
    phases.mark("service");
    Ok(service)
}

/// Builds the service of `function` from the process environment (the Lambda cold start).
///
/// Logs one `cold start wired` line (target `runtime_aws::init`, INFO) with the time spent in
/// the SDK's own construction (`sdk_config_us`: `aws_config::load`; `sdk_clients_us`: the three
/// clients) and in the rest of the wiring (`wiring_us`), split into its phases (`env_us`: the
/// variables; `secrets_us`: reading and parsing the configuration secrets; `apps_us`: the
/// apps' providers; `service_us`: the ports and the service), and `tracing_us`, the subscriber's
/// setup by [`init_tracing`], so that a cold start's cost beyond the SDK can be read from the
/// logs (`infra/lambda-bench` does).
pub async fn service_from_env(function: Function) -> Result<ConnectorService, SetupError> {
    let mut phases = Phases::start();
    let sdk = store_aws::load_sdk_config().await;
    phases.mark("sdk_config");
    let clients = AwsClients::new(&sdk);
    phases.mark("sdk_clients");
    let wiring = Instant::now();
    let service = service_with_clients(
        clients,
        &|name| std::env::var(name).ok(),
        &connectors::factories(),
        function,
        &mut phases,
    )
    .await?;
    let wiring_us = micros(wiring.elapsed());
    let us = |name| phases.micros(name);
    tracing::info!(
        target: INIT_LOG_TARGET,
        function = function.name(),
        tracing_us = timing::tracing_micros(),
        sdk_config_us = us("sdk_config"),
        sdk_clients_us = us("sdk_clients"),
        wiring_us,
        env_us = us("env"),
        secrets_us = us("secrets"),
        apps_us = us("apps"),
        service_us = us("service"),
        "{INIT_LOG_MESSAGE}"
    );
    Ok(service)
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// Test support for the HTTP functions: the service on in-memory ports, a bus that records what
/// it is given, the `events/` fixtures, and [`invoke`](testing::invoke), which hands an API
/// Gateway event to a router as `lambda_http::run` does.
#[cfg(feature = "testing")]
pub mod testing {
    use std::sync::{Arc, Mutex};

    use async_trait::async_trait;
    use axum::http::HeaderMap;
    use http_body_util::BodyExt;
    use serde_json::Value;
    use service::{ConnectorService, HubEndpoint, MemoryDedupe, Ports, ServiceSettings, Tuning};
    use sync_core::ports::{BusError, EventBus, WorkItem};
    use tower::ServiceExt;

    /// A bus that keeps every item.
    #[derive(Default)]
    pub struct RecordingBus(pub Mutex<Vec<WorkItem>>);

    #[async_trait]
    impl EventBus for RecordingBus {
        async fn publish(&self, item: WorkItem) -> Result<(), BusError> {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).push(item);
            Ok(())
        }
    }

    impl RecordingBus {
        /// Items published so far.
        pub fn items(&self) -> Vec<WorkItem> {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
        }
    }

    /// Settings matching the fixtures: tenant `default`, Basic `demo-id:demo-key`, public URL
    /// of the fixtures' API.
    pub fn settings(connec_url: &str) -> ServiceSettings {
        ServiceSettings {
            hub: HubEndpoint {
                url: connec_url.to_owned(),
                api_id: "demo-id".into(),
                api_key: "demo-key".into(),
            },
            tuning: Tuning {
                http: http_client::HttpConfig::fast(),
                ..Tuning::default()
            },
            public_url: PUBLIC_URL.into(),
            tenant: "default".into(),
            launch_secret: Some(
                service::LaunchSecret::new(LAUNCH_SECRET).expect("a long enough secret"),
            ),
        }
    }

    /// The launch secret of [`settings`].
    pub const LAUNCH_SECRET: &str = "test-launch-secret-of-at-least-32-bytes";

    /// The fixtures' public URL.
    pub const PUBLIC_URL: &str = "https://abcdef1234.execute-api.us-east-1.amazonaws.com";

    /// The service on in-memory ports.
    pub fn in_memory(
        settings: ServiceSettings,
        apps: connector_sdk::Registry,
    ) -> (ConnectorService, Arc<RecordingBus>) {
        let bus = Arc::new(RecordingBus::default());
        let ports = Ports {
            store: Arc::new(store_embedded::EmbeddedStore::in_memory().expect("in-memory store")),
            credentials: Arc::new(linking::memory::MemoryCredentialStore::new()),
            states: Arc::new(linking::memory::MemoryAuthorizationStateStore::new()),
            dedupe: Arc::new(MemoryDedupe::default()),
            bus: bus.clone(),
        };
        (
            ConnectorService::new(ports, settings, apps).expect("service wires"),
            bus,
        )
    }

    /// A fixture of `events/`.
    pub fn fixture(name: &str) -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../events")
            .join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
    }

    /// An API Gateway HTTP API (payload 2.0) event as the request `lambda_http::run` hands the
    /// router: read by `lambda_http` (its URI is `https://{host}{rawPath}?{rawQueryString}`, the
    /// query as sent, still percent-encoded, and the path, which API Gateway has already
    /// decoded, encoded again where a URI requires it), with the body as an axum body.
    pub fn api_gateway_request(event: &Value) -> axum::http::Request<axum::body::Body> {
        let request: lambda_http::Request = lambda_http::request::from_str(&event.to_string())
            .expect("an API Gateway HTTP API (v2) event");
        request.map(|body| axum::body::Body::from(body.as_ref().to_vec()))
    }

    /// A whole answer of the router.
    #[derive(Debug)]
    pub struct Answer {
        /// Status.
        pub status: u16,
        /// Headers.
        pub headers: HeaderMap,
        /// Body.
        pub body: Vec<u8>,
    }

    impl Answer {
        /// The body as text.
        pub fn text(&self) -> String {
            String::from_utf8_lossy(&self.body).into_owned()
        }

        /// The body as JSON (panics otherwise).
        pub fn json(&self) -> Value {
            serde_json::from_slice(&self.body)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
        }

        /// A header's value, if present and text.
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers.get(name).and_then(|v| v.to_str().ok())
        }
    }

    /// Hands one API Gateway event to `router` (with `tower::ServiceExt::oneshot`), as the
    /// function's `lambda_http::run` would, and reads the whole answer.
    pub async fn invoke(router: &axum::Router, event: &Value) -> Answer {
        let response = router
            .clone()
            .oneshot(api_gateway_request(event))
            .await
            .unwrap_or_else(|never| match never {});
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("the router's body")
            .to_bytes()
            .to_vec();
        Answer {
            status,
            headers,
            body,
        }
    }
}
