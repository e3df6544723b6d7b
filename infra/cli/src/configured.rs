//! The commands that work from a configuration file: sync, unlock, serve and status.

use super::*;

pub(super) async fn sync(path: &Path, full: bool) -> Result<ExitCode, String> {
    let config = Config::load(path).map_err(|e| e.to_string())?;
    let store = open_store(&config.database)?;
    let hub = hub_endpoint(&config);
    let tuning = Tuning {
        http: HttpConfig::default(),
        overlap: Duration::from_secs(config.sync.overlap_seconds),
        conflict_policy: config.sync.conflict_policy,
    };
    let apps = wiring::registry(&config, &tuning, "http://127.0.0.1")?;
    let mut status = ExitCode::SUCCESS;
    let mut synced = 0;
    for app in apps.iter() {
        // An app linked by OAuth syncs under `connector serve`; here, the configured credential.
        let Some((account, _)) = app.static_account() else {
            continue;
        };
        synced += 1;
        let org =
            ensure_organization(&config, &store, app.as_ref(), account.realm.as_str()).await?;
        let stack = wiring::build_static(store.clone(), &hub, &tuning, app.as_ref())
            .map_err(|e| e.to_string())?;
        if sync_one(&store, &stack, &org.id, full).await? != ExitCode::SUCCESS {
            status = ExitCode::FAILURE;
        }
    }
    if synced == 0 {
        return Err("no configured app has its own credential (an access token): `connector sync` needs one; apps linked by OAuth sync under `connector serve`".into());
    }
    Ok(status)
}

/// The organization of the configured group for `app`, created (and announced) on first use.
async fn ensure_organization(
    config: &Config,
    store: &Arc<dyn SyncStore>,
    app: &dyn connector_sdk::AppProvider,
    realm: &str,
) -> Result<sync_core::domain::Organization, String> {
    let group = &config.organization.group_id;
    let group_id = wiring::group_id(group, "organization.group_id")?;
    // One listing serves both the lookup and the id of a new organization.
    let existing = store
        .list_organizations()
        .await
        .map_err(|e| e.to_string())?;
    if let Some(org) = existing
        .iter()
        .find(|o| o.group_id.as_str() == group.as_str() && o.provider == *app.id())
    {
        return Ok(org.clone());
    }
    let id = linking::new_org_id(&existing, &group_id, app.id());
    let org = wiring::organization_of(
        id,
        group,
        app.id(),
        realm,
        config.organization.name.as_deref().unwrap_or(group),
        config.organization.historical_data,
    );
    store
        .put_organization(&org)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "Linked Connec! group {} to {} account {}{}.",
        org.group_id,
        app.display_name(),
        org.realm,
        if config.organization.historical_data {
            " with historical data"
        } else {
            "; only records created from now on will travel (set organization.historical_data to change)"
        }
    );
    Ok(org)
}

/// One organization's sync, with progress bars and the lease recovery of a killed run.
async fn sync_one(
    store: &Arc<dyn SyncStore>,
    stack: &wiring::Stack,
    org_id: &OrgId,
    full: bool,
) -> Result<ExitCode, String> {
    let bars = MultiProgress::new();
    let style = ProgressStyle::with_template("{spinner} {prefix:<26} {pos:>8} records read {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let progress_bars: Arc<std::sync::Mutex<std::collections::HashMap<String, ProgressBar>>> =
        Arc::default();
    let progress = {
        let bars = bars.clone();
        let progress_bars = progress_bars.clone();
        move |page: &PageProgress| {
            let label = report::phase_label(page.entity.as_str(), page.direction);
            let mut all = progress_bars.lock().unwrap_or_else(|e| e.into_inner());
            let bar = all.entry(label.clone()).or_insert_with(|| {
                let bar = bars.add(
                    ProgressBar::new_spinner()
                        .with_style(style.clone())
                        .with_prefix(label),
                );
                bar.enable_steady_tick(Duration::from_millis(120));
                bar
            });
            bar.inc(page.records as u64);
            bar.set_message(format!("({} written)", page.counts.written()));
        }
    };
    let options = RunOptions {
        full,
        progress: Some(Arc::new(progress)),
        deadline: None,
    };
    // A lease left by a killed run of this machine is freed, and the sync runs once more.
    let outcome = lease::run_with_lease_recovery(store.as_ref(), org_id, || {
        stack.engine.sync(org_id, options.clone())
    })
    .await;
    for bar in progress_bars
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .values()
    {
        bar.finish();
    }
    let run = outcome.map_err(|e| e.to_string())?;
    print!("{}", report::run_summary("Sync", &run));
    Ok(match run.status {
        RunStatus::Success | RunStatus::Partial => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    })
}

pub(super) async fn unlock(path: &Path) -> Result<ExitCode, String> {
    let config = Config::load(path).map_err(|e| e.to_string())?;
    let store = open_store(&config.database)?;
    let orgs = wiring::group_organizations(store.as_ref(), &config.organization.group_id).await?;
    if orgs.is_empty() {
        println!(
            "Connec! group {} has no organization: nothing to unlock.",
            config.organization.group_id
        );
    }
    for org in orgs.iter().map(|o| &o.id) {
        unlock_one(store.as_ref(), org).await?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn unlock_one(store: &dyn SyncStore, org: &OrgId) -> Result<(), String> {
    let removed = lease::unlock(store, org).await.map_err(|e| e.to_string())?;
    match removed {
        Some(holder) => {
            let state = if holder.expires_at <= wiring::now() {
                "expired"
            } else {
                "valid"
            };
            println!(
                "Removed the sync lease of organization {org}: it was held by `{}` until {} ({state}).",
                holder.owner, holder.expires_at
            );
            if let sync_core::lease::HolderStatus::RunningLocalProcess { pid } =
                sync_core::lease::holder_status(
                    &holder.owner,
                    &sync_core::lease::local_host(),
                    sync_core::lease::probe_local_process,
                )
            {
                println!(
                    "Process {pid} of this machine still exists; if it is a sync, it stops at its next lease renewal."
                );
            }
        }
        None => println!("Organization {org} has no sync lease: nothing to unlock."),
    }
    Ok(())
}

/// Whether the OAuth link works, needs re-authorisation, or is missing.
async fn link_health(config: &Config, org: &sync_core::domain::Organization) -> String {
    use linking::CredentialStore;
    let key = match store_embedded::secrets::SecretKey::from_env() {
        Ok(key) => key,
        Err(_) => return "unknown (export CONNECTOR_SECRET_KEY to read the credentials)".into(),
    };
    let store = match store_embedded::secrets::EncryptedCredentialStore::open(&config.database, key)
    {
        Ok(store) => store,
        Err(e) => return format!("unknown ({e})"),
    };
    let account = linking::AccountKey::new(org.provider.clone(), org.realm.to_string());
    match store.load(&account).await {
        Ok(Some(stored)) => match stored.status {
            linking::ports::LinkStatus::Active => "active".into(),
            linking::ports::LinkStatus::NeedsReauthorization { reason } => format!(
                "NEEDS RE-AUTHORISATION ({reason}); syncs are paused: run `connector link {} --group {}`",
                org.provider, org.group_id
            ),
        },
        Ok(None) => "no credentials stored: link the account with `connector link`".into(),
        Err(e) => format!("unreadable ({e})"),
    }
}

/// The variable holding the launch secret the hub signs launch tokens with.
pub(super) const LAUNCH_SECRET_VAR: &str = "CONNECTOR_LAUNCH_SECRET";

/// The tenant's launch secret: `CONNECTOR_LAUNCH_SECRET` when set (shared with the hub that
/// mints launch tokens), otherwise derived from `CONNECTOR_SECRET_KEY`, so that on one machine
/// `connector admin-url` and `connector serve` agree with nothing more to configure.
pub(super) fn launch_secret(tenant: &str) -> Result<service::LaunchSecret, String> {
    match std::env::var(LAUNCH_SECRET_VAR) {
        Ok(value) => {
            service::LaunchSecret::new(&value).map_err(|e| format!("{LAUNCH_SECRET_VAR}: {e}"))
        }
        Err(_) => {
            let key = store_embedded::secrets::SecretKey::from_env().map_err(|e| {
                format!("{e} (or set {LAUNCH_SECRET_VAR}, the launch secret shared with the hub)")
            })?;
            Ok(service::LaunchSecret::derived(
                key.to_base64().as_bytes(),
                tenant,
            ))
        }
    }
}

/// A launch URL for `group`'s page, signed with the launch secret, valid for `minutes`.
pub(super) fn admin_url(
    config: &Config,
    group: &str,
    user: &str,
    minutes: u64,
) -> Result<String, String> {
    let serve = config.serve.clone().ok_or(
        "the configuration has no `serve` section: the page is served by `connector serve`",
    )?;
    let group = sync_core::domain::GroupId::parse(group).map_err(|_| {
        "--group is not a Connec! group id (1 to 64 letters, digits, `-` or `_`)".to_owned()
    })?;
    let lifetime = Duration::from_secs(minutes.clamp(1, 15) * 60);
    let secret = launch_secret(&serve.tenant)?;
    let claims = access::LaunchClaims::new(
        &sync_core::domain::Tenant::new(serve.tenant.clone()),
        &group,
        user,
        sync_core::domain::Timestamp::from_datetime(chrono::Utc::now()),
        lifetime,
    );
    let public_url = serve
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", serve.listen));
    Ok(format!(
        "{}/connector/launch?token={}",
        public_url.trim_end_matches('/'),
        access::LaunchToken::mint(&secret, &claims)
    ))
}

pub(super) fn serve_settings(config: &Config) -> Result<cli::serve::ServeSettings, String> {
    let serve = config.serve.clone().ok_or(
        "the configuration has no `serve` section: add `serve: { listen: 127.0.0.1:8080 }`",
    )?;
    let public_url = serve
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", serve.listen))
        .trim_end_matches('/')
        .to_owned();
    let tuning = Tuning {
        overlap: Duration::from_secs(config.sync.overlap_seconds),
        conflict_policy: config.sync.conflict_policy,
        ..Tuning::default()
    };
    let apps = wiring::registry(config, &tuning, &public_url)?;
    if !apps.iter().any(|app| app.oauth().is_some()) {
        return Err("no configured app has an `oauth` section: `connector serve` links accounts by OAuth (add the app's client_id, client_secret and the like)".into());
    }
    Ok(cli::serve::ServeSettings {
        service: service::ServiceSettings {
            hub: hub_endpoint(config),
            tuning,
            public_url,
            tenant: serve.tenant.clone(),
            launch_secret: Some(launch_secret(&serve.tenant)?),
        },
        apps,
        sync_interval: Duration::from_secs(serve.sync_interval_seconds.max(1)),
    })
}

pub(super) async fn serve(path: &Path) -> Result<ExitCode, String> {
    let config = Config::load(path).map_err(|e| e.to_string())?;
    let settings = serve_settings(&config)?;
    let apps: Vec<String> = settings.apps.ids().map(str::to_owned).collect();
    let listen = config
        .serve
        .as_ref()
        .map(|s| s.listen.clone())
        .unwrap_or_default();
    let key = store_embedded::secrets::SecretKey::from_env().map_err(|e| e.to_string())?;
    let (runtime, work) = cli::serve::LocalRuntime::open(&config.database, key, settings)
        .map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e} (change serve.listen)"))?;
    let _tasks = runtime.start(work);
    println!(
        "Serving on http://{listen}: the connector's page (/connector), its API (/api/v1), /oauth/{{app}}/start, /oauth/{{app}}/callback, /webhooks/connec/{{tenant}}, /webhooks/{{app}} for {}",
        apps.join(", ")
    );
    println!(
        "Open a group's page with: connector admin-url --group cld-... --config {}",
        path.display()
    );
    axum::serve(listener, runtime.router())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| e.to_string())?;
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn status(path: &Path) -> Result<ExitCode, String> {
    let config = Config::load(path).map_err(|e| e.to_string())?;
    let store = open_store(&config.database)?;
    let orgs = wiring::group_organizations(store.as_ref(), &config.organization.group_id).await?;
    if orgs.is_empty() {
        println!(
            "Connec! group {} is not linked yet: run `connector sync --config {}`.",
            config.organization.group_id,
            path.display()
        );
    }
    let apps = wiring::registry(&config, &Tuning::default(), "http://127.0.0.1")?;
    for org in orgs {
        org_status(&config, store.as_ref(), &apps, org).await?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn org_status(
    config: &Config,
    store: &dyn SyncStore,
    apps: &connector_sdk::Registry,
    org: sync_core::domain::Organization,
) -> Result<(), String> {
    let app = apps.of(&org.provider);
    println!(
        "Organization {} ({}): Connec! group {} <-> {} {}; sync {}; {}",
        org.id,
        org.name,
        org.group_id,
        org.provider,
        org.realm,
        if org.sync_enabled {
            "enabled"
        } else {
            "disabled"
        },
        match org.history_from {
            Some(t) => format!("records created since {t}"),
            None => "historical data on".into(),
        }
    );
    if app.is_some_and(|app| app.oauth().is_some()) {
        println!("  link: {}", link_health(config, &org).await);
    }
    let entities: Vec<sync_core::domain::EntityName> = app
        .map(|app| app.entities().iter().map(|p| p.hub.clone()).collect())
        .unwrap_or_default();
    for name in entities {
        let entity = name.as_str();
        let mut marks = Vec::new();
        for side in [sync_core::domain::Side::Hub, sync_core::domain::Side::App] {
            let mark = store
                .get_watermark(&org.id, &name, side)
                .await
                .map_err(|e| e.to_string())?;
            let parked = store
                .pending(&org.id, &name, side)
                .await
                .map_err(|e| e.to_string())?;
            marks.push(format!(
                "{} watermark {}, {} parked",
                side.as_str(),
                mark.map(|m| m.0.to_string())
                    .unwrap_or_else(|| "none (first sync pending)".into()),
                parked.len()
            ));
        }
        println!("  {entity}: {}", marks.join("; "));
    }
    let runs = store
        .recent_runs(&org.id, 5)
        .await
        .map_err(|e| e.to_string())?;
    if runs.is_empty() {
        println!("No runs yet.");
    }
    for run in runs {
        print!(
            "{}",
            report::run_summary(&format!("Run {} at {}", run.id, run.started_at), &run)
        );
    }
    Ok(())
}

fn hub_endpoint(config: &Config) -> HubEndpoint {
    HubEndpoint {
        url: config.connec.base_url.clone(),
        api_id: config.connec.api_id.clone(),
        api_key: config.connec.api_key.clone(),
    }
}
