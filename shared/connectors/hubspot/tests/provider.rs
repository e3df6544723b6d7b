//! HubSpot on the provider seam: subscriptions follow the mapping files, settings are checked.

use connector_sdk::{BuildContext, ProviderFactory};
use hubspot::{HubSpotFactory, HubSpotProvider, HubSpotSettings};
use serde_json::{Value, json};

fn context() -> BuildContext {
    BuildContext {
        public_url: "https://connector.example".into(),
        http: Default::default(),
        conflict_policy: Default::default(),
    }
}

fn property_subscriptions(provider: &HubSpotProvider, object: &str) -> Vec<String> {
    provider
        .subscriptions()
        .iter()
        .filter(|s| s["eventType"] == json!(format!("{object}.propertyChange")))
        .map(|s| s["propertyName"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_built_in_mappings_subscribe_to_what_they_map() {
    let provider = HubSpotProvider::new(
        HubSpotSettings::private_app("http://127.0.0.1:9", "t", "1"),
        &context(),
    )
    .unwrap();
    let mut contact = property_subscriptions(&provider, "contact");
    contact.sort();
    // What the hand-written list of before held, now read from people.yaml.
    let mut expected = vec![
        "firstname",
        "lastname",
        "email",
        "jobtitle",
        "phone",
        "mobilephone",
        "city",
        "country",
        "associatedcompanyid",
    ];
    expected.sort();
    assert_eq!(contact, expected);
    let kinds: Vec<Value> = provider
        .subscriptions()
        .iter()
        .map(|s| s["eventType"].clone())
        .filter(|t| !t.as_str().unwrap().ends_with("propertyChange"))
        .collect();
    assert_eq!(
        kinds,
        vec![
            json!("company.creation"),
            json!("company.deletion"),
            json!("contact.creation"),
            json!("contact.deletion"),
        ]
    );
}

#[test]
fn a_property_added_to_a_mapping_file_is_subscribed_to() {
    let dir = tempfile::tempdir().unwrap();
    let builtin = include_str!("../mappings/people.yaml");
    let extended = builtin.replacen(
        "fields:\n",
        "fields:\n  - hub: nick_name\n    app: properties.nickname\n",
        1,
    );
    std::fs::write(dir.path().join("people.yaml"), extended).unwrap();
    let mut settings = HubSpotSettings::private_app("http://127.0.0.1:9", "t", "1");
    settings.mappings_dir = Some(dir.path().to_owned());
    let provider = HubSpotProvider::new(settings, &context()).unwrap();
    assert!(property_subscriptions(&provider, "contact").contains(&"nickname".to_owned()));
}

#[test]
fn settings_with_unknown_keys_or_a_misspelt_mapping_file_are_refused_clearly() {
    let unknown = HubSpotFactory
        .build(
            json!({ "base_url": "http://h", "acces_token": "t" }),
            &context(),
        )
        .err()
        .unwrap()
        .to_string();
    assert!(unknown.contains("acces_token"), "{unknown}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("peple.yaml"), "fields: []\n").unwrap();
    let misspelt = HubSpotFactory
        .build(
            json!({ "base_url": "http://h", "mappings_dir": dir.path() }),
            &context(),
        )
        .err()
        .unwrap()
        .to_string();
    assert!(misspelt.contains("people.yaml"), "{misspelt}");
}

#[test]
fn a_secret_in_the_wrong_field_is_not_echoed_by_the_settings_error() {
    // Security review finding 12: serde's own message would quote the value.
    let error = HubSpotFactory
        .build(
            json!({ "base_url": "http://h", "oauth": { "client_id": "c", "client_secret": "s", "app_id": "TOPSECRETVALUE123" } }),
            &context(),
        )
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("oauth.app_id"), "{error}");
    assert!(!error.contains("TOPSECRETVALUE123"), "{error}");
}

#[test]
fn without_oauth_there_is_no_oauth_app_and_no_webhooks() {
    let provider = HubSpotFactory
        .build(
            json!({ "base_url": "http://h", "access_token": "t", "portal_id": "7" }),
            &context(),
        )
        .unwrap();
    assert!(provider.oauth().is_none());
    assert!(provider.webhooks().is_none());
    let (account, _) = provider.static_account().unwrap();
    assert_eq!(account.realm.as_str(), "7");
    let linked = HubSpotFactory
        .build(
            json!({ "base_url": "http://h/", "oauth": { "client_id": "c", "client_secret": "s", "app_id": "12" } }),
            &context(),
        )
        .unwrap();
    let oauth = linked.oauth().unwrap();
    assert_eq!(
        oauth.redirect_uri,
        "https://connector.example/oauth/hubspot/callback"
    );
    assert_eq!(oauth.token_url, "http://h/oauth/v1/token");
    assert!(linked.webhooks().is_some());
}

#[tokio::test]
async fn unlinking_revokes_the_refresh_token_at_hubspot() {
    use connector_sdk::UnlinkContext;
    use emulators::{HubSpotConfig, HubSpotEmulator, OAuthApp};
    let emulator = HubSpotEmulator::new(HubSpotConfig {
        oauth: Some(OAuthApp::new("cid", "csecret", 7)),
        ..HubSpotConfig::default()
    });
    let server = emulator.start().await.unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // A refresh token issued by the authorization-code flow.
    let redirect = "https://connector.example/oauth/hubspot/callback";
    let consent = http
        .get(format!("{}/oauth/authorize", server.base_url))
        .query(&[
            ("client_id", "cid"),
            ("redirect_uri", redirect),
            ("state", "s"),
        ])
        .send()
        .await
        .unwrap();
    let location = url::Url::parse(consent.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let tokens: Value = http
        .post(format!("{}/oauth/v1/token", server.base_url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs([
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", redirect),
                    ("client_id", "cid"),
                    ("client_secret", "csecret"),
                ])
                .finish(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let info = |token: String| {
        let http = http.clone();
        let base = server.base_url.clone();
        async move {
            http.get(format!("{base}/oauth/v1/refresh-tokens/{token}"))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert!(info(refresh.clone()).await.is_success());

    let provider = HubSpotFactory
        .build(
            json!({
                "base_url": server.base_url,
                "oauth": { "client_id": "cid", "client_secret": "csecret", "app_id": 7 },
            }),
            &context(),
        )
        .unwrap();
    let realm = sync_core::domain::Realm::new("62515");
    let unlink = UnlinkContext {
        realm: &realm,
        access_token: None,
        refresh_token: Some(&refresh),
    };
    provider.after_unlink(&unlink).await.unwrap();
    assert_eq!(info(refresh.clone()).await, reqwest::StatusCode::NOT_FOUND);
    // Again: the token is gone already, which is not an error.
    provider.after_unlink(&unlink).await.unwrap();
}
