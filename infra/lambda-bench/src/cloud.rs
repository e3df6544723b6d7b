//! What the functions find at cold start: moto (DynamoDB, Secrets Manager, EventBridge) with
//! the table, the bus, the configuration secrets and one linked organization; the Connec! and
//! HubSpot emulators in process; and the environment Lambda and template.yaml give each
//! function.

use std::collections::BTreeMap;

use serde_json::json;
use store_aws::testing::{moto, sdk_config, unique};
use sync_core::domain::{GroupId, OrgId, Organization, Provider, Realm, Tenant, Timestamp};
use sync_core::ports::SyncStore;

use crate::BenchError;
use crate::functions::FunctionKind;

/// The launch secret put into `<prefix>/launch/default` (the OAuth function reads it).
pub const LAUNCH_SECRET: &str = "lambda-bench-launch-secret-of-at-least-32-bytes";

/// The tenant of the deployment (template.yaml's `TenantName` default).
pub const TENANT: &str = "default";

/// The organization linked before the functions start: the fan-out finds it and Connec!
/// notifications for its group are routed to it.
pub const GROUP: &str = "cld-demo";

/// The public URL of the fixtures' API (`events/`).
pub const PUBLIC_URL: &str = "https://abcdef1234.execute-api.us-east-1.amazonaws.com";

/// Moto's resources and the emulators, for as long as the functions run.
pub struct Cloud {
    /// moto's endpoint (`AWS_ENDPOINT_URL` of the functions).
    pub moto_endpoint: String,
    /// The variables every function gets from template.yaml's `Globals`.
    pub template_env: BTreeMap<String, String>,
    _servers: Vec<emulators::RunningServer>,
}

impl Cloud {
    /// Starts moto (`.venv/bin/moto_server`, or `MOTO_ENDPOINT`) and the emulators, and creates
    /// what the functions read at cold start.
    ///
    /// # Errors
    ///
    /// A failed AWS call or emulator start.
    pub async fn prepare() -> Result<Self, BenchError> {
        // `moto()` polls with std sleeps until the server answers.
        let endpoint = tokio::task::spawn_blocking(|| moto().endpoint.clone())
            .await
            .map_err(|e| BenchError::Setup(format!("starting moto: {e}")))?;
        let sdk = sdk_config().await;
        let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
        let table = unique("bench");
        store_aws::create_table(&dynamo, &table)
            .await
            .map_err(|e| BenchError::Setup(format!("creating the table: {e}")))?;
        let events = aws_sdk_eventbridge::Client::new(&sdk);
        let bus = unique("bench-bus");
        events
            .create_event_bus()
            .name(&bus)
            .send()
            .await
            .map_err(|e| BenchError::Setup(format!("creating the bus: {e:?}")))?;
        let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
        let prefix = unique("bench");
        for (name, value) in [
            (
                format!("{prefix}/connec/{TENANT}"),
                json!({ "api_id": "demo-id", "api_key": "demo-key" }),
            ),
            (
                format!("{prefix}/hubspot/client"),
                json!({ "client_secret": "demo-client-secret" }),
            ),
            (
                format!("{prefix}/launch/{TENANT}"),
                json!({ "launch_secret": LAUNCH_SECRET }),
            ),
        ] {
            secrets
                .create_secret()
                .name(&name)
                .secret_string(value.to_string())
                .send()
                .await
                .map_err(|e| BenchError::Setup(format!("creating secret {name}: {e:?}")))?;
        }
        let store = store_aws::DynamoStore::new(dynamo, table.clone());
        store
            .put_organization(&Organization {
                id: OrgId::new(GROUP),
                tenant: Tenant::new(TENANT),
                group_id: GroupId::new(GROUP),
                provider: Provider::new("hubspot"),
                realm: Realm::new("62515"),
                name: "Bench organization".into(),
                sync_enabled: true,
                entity_flags: BTreeMap::new(),
                history_from: None,
                linked_at: Timestamp::from_datetime(chrono::Utc::now()),
            })
            .await
            .map_err(|e| BenchError::Setup(format!("linking the organization: {e}")))?;

        let connec = emulators::ConnecEmulator::new(emulators::ConnecConfig::default());
        let hubspot = emulators::HubSpotEmulator::new(emulators::HubSpotConfig {
            oauth: Some(emulators::OAuthApp::default()),
            ..emulators::HubSpotConfig::default()
        });
        hubspot.pause_webhooks(true);
        let start_error = |e: std::io::Error| BenchError::Setup(format!("an emulator: {e}"));
        let connec_server = connec.start().await.map_err(start_error)?;
        let hubspot_server = hubspot.start().await.map_err(start_error)?;

        // template.yaml's Globals.Function.Environment, with the INFO log filter.
        let template_env = BTreeMap::from(
            [
                ("TABLE_NAME", table),
                ("EVENT_BUS_NAME", bus),
                ("SECRETS_PREFIX", prefix),
                ("TENANT", TENANT.into()),
                ("PUBLIC_URL", PUBLIC_URL.into()),
                ("CONNEC_BASE_URL", connec_server.base_url.clone()),
                ("APPS", "hubspot".into()),
                ("HUBSPOT_BASE_URL", hubspot_server.base_url.clone()),
                ("HUBSPOT_CLIENT_ID", "demo-client-id".into()),
                ("HUBSPOT_APP_ID", "424242".into()),
                (
                    "HUBSPOT_AUTHORIZE_URL",
                    format!("{}/oauth/authorize", hubspot_server.base_url),
                ),
                ("XERO_CLIENT_ID", String::new()),
                ("XERO_PAYMENT_ACCOUNT_CODE", String::new()),
                ("RUST_LOG", INFO_LOG_FILTER.into()),
            ]
            .map(|(k, v)| (k.to_owned(), v)),
        );
        Ok(Self {
            moto_endpoint: endpoint,
            template_env,
            _servers: vec![connec_server, hubspot_server],
        })
    }

    /// The whole environment of `function`: what Lambda sets in an execution environment
    /// (credentials, region, function name and size, log format), the template's variables,
    /// the SDK pointed at moto, and the runtime API's address.
    pub fn function_env(&self, function: FunctionKind, runtime_api: &str) -> Vec<(String, String)> {
        let name = function.deployed_name();
        let mut env: Vec<(String, String)> = [
            ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_owned()),
            ("AWS_LAMBDA_FUNCTION_NAME", name.clone()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
            (
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                function.memory_mb().to_string(),
            ),
            ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/12/01/[$LATEST]0123456789abcdef".into(),
            ),
            // LoggingConfig.LogFormat JSON, ApplicationLogLevel INFO.
            ("AWS_LAMBDA_LOG_FORMAT", "JSON".into()),
            ("AWS_LAMBDA_LOG_LEVEL", "INFO".into()),
            ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023".into()),
            ("_HANDLER", "bootstrap".into()),
            ("LAMBDA_TASK_ROOT", "/var/task".into()),
            ("LAMBDA_RUNTIME_DIR", "/var/runtime".into()),
            ("TZ", ":UTC".into()),
            ("LANG", "en_US.UTF-8".into()),
            ("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_DEFAULT_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_SESSION_TOKEN", "testing".into()),
            // The one difference from AWS: every SDK client talks to moto.
            ("AWS_ENDPOINT_URL", self.moto_endpoint.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        env.extend(self.template_env.clone());
        env
    }
}

/// template.yaml's `Mappings.LogFilters.INFO.RustLog`: our crates at INFO, the SDK, HTTP, TLS
/// and runtime crates at WARN.
pub const INFO_LOG_FILTER: &str = "warn,connec=info,connector_sdk=info,connectors=info,hubspot=info,xero=info,http_api=info,http_client=info,linking=info,mapping=info,runtime_aws=info,service=info,store_aws=info,store_embedded=info,sync_core=info,webhooks=info,oauth_callback=info,webhook=info,sync=info,aws_smithy_runtime=warn,aws_smithy_http=warn,aws_sdk=warn,aws_config=warn,hyper=warn,h2=warn,rustls=warn,reqwest=warn,lambda_runtime=warn,lambda_http=warn";
