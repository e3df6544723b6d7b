//! `connector emulate`: the Connec!, HubSpot and Xero emulators on loopback until Ctrl-C, with
//! what a client needs to call each printed.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

mod allocator;

/// How long the token `connector emulate` prints for Xero lives (on the emulator only).
const XERO_EMULATE_TOKEN_TTL: Duration = Duration::from_secs(12 * 3600);

/// Runs the emulators until Ctrl-C, printing their URLs and credentials.
pub(crate) async fn command(
    connec_port: u16,
    hubspot_port: u16,
    xero_port: u16,
    notify: Option<String>,
) -> Result<ExitCode, String> {
    let connec = emulators::ConnecEmulator::new(emulators::ConnecConfig::default());
    // The HubSpot app `connector serve` links through: demo-client-id / demo-client-secret, app 424242.
    let hubspot = emulators::HubSpotEmulator::new(emulators::HubSpotConfig {
        oauth: Some(emulators::OAuthApp::default()),
        ..emulators::HubSpotConfig::default()
    });
    if let Some(url) = notify {
        connec.subscribe(emulators::NotificationSubscriber {
            url,
            api_id: "demo-id".into(),
            api_key: "demo-key".into(),
            groups: None,
        });
    }
    let bind = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    let connec_server = connec.start_on(bind(connec_port)).await.map_err(|e| {
        format!(
            "cannot listen on port {connec_port} for Connec!: {e} (pick another with --connec-port)"
        )
    })?;
    let hubspot_server = hubspot
        .start_on(bind(hubspot_port))
        .await
        .map_err(|e| format!("cannot listen on port {hubspot_port} for HubSpot: {e} (pick another with --hubspot-port)"))?;
    // Xero: the OAuth app demo-client-id / demo-client-secret, the demo organisation, and a
    // token granted to it for use without the OAuth flow (a custom connection).
    let xero = emulators::XeroEmulator::new(emulators::XeroConfig {
        access_token_ttl: XERO_EMULATE_TOKEN_TTL,
        ..emulators::XeroConfig::default()
    });
    let xero_server = xero.start_on(bind(xero_port)).await.map_err(|e| {
        format!("cannot listen on port {xero_port} for Xero: {e} (pick another with --xero-port)")
    })?;
    let tenant = emulators::xero::DEMO_TENANT_ID;
    let xero_token = xero.grant(&[tenant]).access_token;
    println!(
        "Connec! emulator: {} (Basic demo-id:demo-key, group e.g. cld-demo)",
        connec_server.base_url
    );
    println!(
        "HubSpot emulator: {} (Bearer demo-token, portal 62515)",
        hubspot_server.base_url
    );
    println!(
        "Xero emulator: {} (API under /api.xro/2.0, OAuth app demo-client-id:demo-client-secret)",
        xero_server.base_url
    );
    println!(
        "  organisation (xero-tenant-id) {tenant}; a token for it, valid {} hours:",
        XERO_EMULATE_TOKEN_TTL.as_secs() / 3600
    );
    println!("  Bearer {xero_token}");
    println!(
        "Seed with POST /_emulator/seed/...; inspect with GET /_emulator/state. Ctrl-C stops."
    );
    tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
    connec_server.shutdown().await;
    hubspot_server.shutdown().await;
    xero_server.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
