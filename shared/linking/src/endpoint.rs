//! Talking to an app's token endpoint: the `oauth2` crate (default features off) over our own
//! reqwest client, through [`OAuthHttpClient`], its async HTTP client.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use oauth2::basic::{BasicClient, BasicErrorResponse, BasicTokenResponse};
use oauth2::{
    AsyncHttpClient, AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, EndpointNotSet,
    EndpointSet, HttpRequest, HttpResponse, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, TokenResponse, TokenUrl,
};

use crate::oauth::{ClientAuth, OAuthApp};
use crate::secret::SecretString;

/// Longest wait for one token-endpoint request, unless the caller gives its own
/// ([`OAuthHttpClient::with_timeout`]).
pub const TOKEN_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest OAuth error code kept from an answer (codes are short identifiers).
const MAX_ERROR_CODE: usize = 64;

/// The `oauth2` client with an authorize URL and a token URL.
pub(crate) type Client =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// Why a transport call failed: surfaced to `oauth2` as its request error.
#[derive(Debug, thiserror::Error)]
pub enum OAuthHttpError {
    /// The request could not be built or sent, or timed out.
    #[error("request failed: {0}")]
    Transport(String),
    /// The endpoint answered with this status and no OAuth error body (5xx, 429, a bare 4xx).
    #[error("HTTP {0}")]
    Status(u16),
}

/// [`oauth2::AsyncHttpClient`] over a shared [`reqwest::Client`] (which owns the TLS and proxy
/// settings), with its own timeout per request ([`TOKEN_REQUEST_TIMEOUT`] unless told otherwise:
/// the client's, if it has one, does not apply).
///
/// It normalises answers before `oauth2` reads them: 5xx and 429 become
/// [`OAuthHttpError::Status`] (retryable), a 4xx without an OAuth `error` field either maps a
/// HubSpot-style `status` (`BAD_REFRESH_TOKEN`, `BAD_AUTH_CODE`) to `invalid_grant` or becomes
/// [`OAuthHttpError::Status`]. Bodies are never logged: they hold tokens.
#[derive(Clone, Debug)]
pub struct OAuthHttpClient {
    http: reqwest::Client,
    timeout: Duration,
}

impl Default for OAuthHttpClient {
    fn default() -> Self {
        Self::new(reqwest::Client::default())
    }
}

impl OAuthHttpClient {
    /// Wraps a reqwest client, with [`TOKEN_REQUEST_TIMEOUT`] per request.
    #[must_use]
    pub fn new(http: reqwest::Client) -> Self {
        Self {
            http,
            timeout: TOKEN_REQUEST_TIMEOUT,
        }
    }

    /// Changes the timeout of each request (connecting included).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, OAuthHttpError> {
        let mut request = reqwest::Request::try_from(request)
            .map_err(|e| OAuthHttpError::Transport(describe_reqwest(&e)))?;
        *request.timeout_mut() = Some(self.timeout);
        let response = self
            .http
            .execute(request)
            .await
            .map_err(|e| OAuthHttpError::Transport(describe_reqwest(&e)))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| OAuthHttpError::Transport(describe_reqwest(&e)))?
            .to_vec();
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(OAuthHttpError::Status(status.as_u16()));
        }
        let body = if status.is_client_error() {
            normalise_error_body(status.as_u16(), &body)?
        } else {
            body
        };
        let mut builder = oauth2::http::Response::builder().status(status.as_u16());
        for (name, value) in &headers {
            if name != reqwest::header::CONTENT_LENGTH {
                builder = builder.header(name.as_str(), value.as_bytes());
            }
        }
        builder
            .body(body)
            .map_err(|e| OAuthHttpError::Transport(format!("cannot rebuild the response: {e}")))
    }
}

impl<'c> AsyncHttpClient<'c> for OAuthHttpClient {
    type Error = OAuthHttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Self::Error>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

/// A reqwest error without its URL's query (our token URLs carry none, but be safe).
fn describe_reqwest(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_body() || error.is_decode() {
        "broken response body"
    } else {
        "request error"
    };
    let url = error
        .url()
        .map(|url| format!(" ({}{})", url.origin().ascii_serialization(), url.path()))
        .unwrap_or_default();
    format!("{kind}{url}")
}

/// Keeps a 4xx body that carries an OAuth `error`; maps HubSpot-style `status` codes; else fails
/// with the bare status.
fn normalise_error_body(status: u16, body: &[u8]) -> Result<Vec<u8>, OAuthHttpError> {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body)
    else {
        return Err(OAuthHttpError::Status(status));
    };
    if map.get("error").is_some_and(serde_json::Value::is_string) {
        return Ok(body.to_vec());
    }
    let mapped = match map.get("status").and_then(serde_json::Value::as_str) {
        Some("BAD_REFRESH_TOKEN" | "BAD_AUTH_CODE" | "BAD_GRANT") => "invalid_grant",
        Some("BAD_CLIENT_ID" | "BAD_CLIENT_SECRET") => "invalid_client",
        Some("BAD_REDIRECT_URI") => "invalid_request",
        _ => return Err(OAuthHttpError::Status(status)),
    };
    Ok(serde_json::json!({ "error": mapped })
        .to_string()
        .into_bytes())
}

/// Tokens the endpoint granted.
pub(crate) struct Granted {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    pub expires_in: Option<Duration>,
    pub scopes: Option<Vec<String>>,
}

/// Why the endpoint did not grant tokens.
#[derive(Debug)]
pub(crate) enum Failure {
    /// An OAuth error answer (`invalid_grant`...), or `http_<status>` for a bare 4xx.
    Refused(String),
    /// Transport failure, 5xx, 429, malformed success answer.
    Transient(String),
}

impl Failure {
    pub(crate) fn is_invalid_grant(&self) -> bool {
        matches!(self, Failure::Refused(code) if code == "invalid_grant")
    }
}

/// Builds the `oauth2` client of `app`.
pub(crate) fn client(app: &OAuthApp) -> Result<Client, String> {
    let auth_url = AuthUrl::new(app.authorize_url.clone())
        .map_err(|e| format!("authorize URL `{}`: {e}", app.authorize_url))?;
    let token_url = TokenUrl::new(app.token_url.clone())
        .map_err(|e| format!("token URL `{}`: {e}", app.token_url))?;
    let redirect = RedirectUrl::new(app.redirect_uri.clone())
        .map_err(|e| format!("redirect URI `{}`: {e}", app.redirect_uri))?;
    let mut client = BasicClient::new(ClientId::new(app.client_id.clone()))
        .set_auth_uri(auth_url)
        .set_token_uri(token_url)
        .set_redirect_uri(redirect)
        .set_auth_type(match app.client_auth {
            ClientAuth::RequestBody => AuthType::RequestBody,
            ClientAuth::BasicAuth => AuthType::BasicAuth,
        });
    if !app.client_secret.is_empty() {
        client = client.set_client_secret(ClientSecret::new(app.client_secret.expose().to_owned()));
    }
    Ok(client)
}

/// Exchanges an authorization code.
pub(crate) async fn exchange_code(
    client: &Client,
    http: &OAuthHttpClient,
    code: &str,
    verifier: Option<&SecretString>,
    redirect_uri: &str,
) -> Result<Granted, Failure> {
    let redirect = RedirectUrl::new(redirect_uri.to_owned())
        .map_err(|e| Failure::Transient(format!("stored redirect URI is invalid: {e}")))?;
    let mut request = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .set_redirect_uri(std::borrow::Cow::Owned(redirect));
    if let Some(verifier) = verifier {
        request = request.set_pkce_verifier(PkceCodeVerifier::new(verifier.expose().to_owned()));
    }
    granted(request.request_async(http).await)
}

/// Trades a refresh token for new tokens.
pub(crate) async fn refresh(
    client: &Client,
    http: &OAuthHttpClient,
    refresh_token: &SecretString,
) -> Result<Granted, Failure> {
    let token = RefreshToken::new(refresh_token.expose().to_owned());
    let result = client
        .exchange_refresh_token(&token)
        .request_async(http)
        .await;
    granted(result)
}

fn granted(
    result: Result<BasicTokenResponse, RequestTokenError<OAuthHttpError, BasicErrorResponse>>,
) -> Result<Granted, Failure> {
    match result {
        Ok(response) => Ok(Granted {
            access_token: SecretString::new(response.access_token().secret().clone()),
            refresh_token: response
                .refresh_token()
                .map(|token| SecretString::new(token.secret().clone())),
            expires_in: response.expires_in(),
            scopes: response
                .scopes()
                .map(|scopes| scopes.iter().map(|scope| scope.to_string()).collect()),
        }),
        Err(RequestTokenError::ServerResponse(error)) => {
            Err(Failure::Refused(sanitise_code(error.error().as_ref())))
        }
        Err(RequestTokenError::Request(OAuthHttpError::Status(status)))
            if (400..500).contains(&status) && status != 429 =>
        {
            Err(Failure::Refused(format!("http_{status}")))
        }
        Err(RequestTokenError::Request(error)) => Err(Failure::Transient(error.to_string())),
        // The body may hold tokens: say only that it did not parse.
        Err(RequestTokenError::Parse(..)) => Err(Failure::Transient(
            "the token endpoint's answer could not be read".to_owned(),
        )),
        Err(RequestTokenError::Other(detail)) => Err(Failure::Transient(detail)),
    }
}

/// Keeps an OAuth error code printable and short: `[A-Za-z0-9_.-]`, at most 64 characters.
pub(crate) fn sanitise_code(code: &str) -> String {
    let cleaned: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .take(MAX_ERROR_CODE)
        .collect();
    if cleaned.is_empty() {
        "unknown_error".to_owned()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::{normalise_error_body, sanitise_code};

    #[test]
    fn error_codes_are_sanitised() {
        assert_eq!(sanitise_code("invalid_grant"), "invalid_grant");
        assert_eq!(sanitise_code("<script>x</script>"), "scriptxscript");
        assert_eq!(sanitise_code(""), "unknown_error");
        assert_eq!(sanitise_code(&"a".repeat(200)).len(), 64);
    }

    #[test]
    fn hubspot_style_errors_are_mapped() {
        let body =
            br#"{"status":"BAD_REFRESH_TOKEN","message":"missing or unknown refresh token"}"#;
        let mapped = normalise_error_body(400, body).unwrap();
        assert_eq!(mapped, br#"{"error":"invalid_grant"}"#);
        let oauth = br#"{"error":"invalid_client"}"#;
        assert_eq!(normalise_error_body(401, oauth).unwrap(), oauth);
        assert!(normalise_error_body(400, b"<html>").is_err());
    }
}
