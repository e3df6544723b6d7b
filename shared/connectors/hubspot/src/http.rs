//! Talking to the API: authorised requests, JSON answers, HubSpot's error envelope, and the
//! record helpers every module shares.

use http_client::{HttpResponse, Idempotency, parse_json};
use serde_json::{Value, json};
use sync_core::error::{AppError, HttpError};
use url::Url;

use crate::API;
use crate::connector::HubSpotConnector;

impl HubSpotConnector {
    fn url(&self, path: &str) -> Result<Url, HttpError> {
        self.config.base_url.join(path).map_err(|e| HttpError::Url {
            api: API,
            detail: format!("cannot join `{path}`: {e}"),
        })
    }

    fn request(&self, method: reqwest::Method, url: Url, token: &str) -> reqwest::RequestBuilder {
        self.api
            .http()
            .request(method, url)
            .bearer_auth(token)
            .header("Accept", "application/json")
    }

    /// `POST`s JSON; an empty answer (204) is `Value::Null`.
    pub(crate) async fn post(
        &self,
        path: &str,
        body: &Value,
        idempotency: Idempotency,
    ) -> Result<(u16, Value), AppError> {
        let url = self.url(path)?;
        let response = self
            .authorized("POST", path, idempotency, |token| {
                self.request(reqwest::Method::POST, url.clone(), token)
                    .json(body)
            })
            .await?;
        if response.body.iter().all(u8::is_ascii_whitespace) {
            return Ok((response.status.as_u16(), Value::Null));
        }
        Ok((
            response.status.as_u16(),
            parse_json(API, "POST", path, &response.body)?,
        ))
    }

    /// Sends with the current token; on a 401 (an expired or revoked token) renews it once and
    /// tries again, so a token that died early costs one retry instead of a failed run.
    async fn authorized(
        &self,
        method: &str,
        path: &str,
        idempotency: Idempotency,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<HttpResponse, AppError> {
        let token = self.config.token.bearer().await?;
        match self
            .api
            .send(method, path, idempotency, || build(&token))
            .await
        {
            Err(HttpError::Status { status: 401, .. }) => {
                let token = self.config.token.renew().await?;
                Ok(self
                    .api
                    .send(method, path, idempotency, || build(&token))
                    .await?)
            }
            other => Ok(other?),
        }
    }

    /// `GET`s JSON.
    pub(crate) async fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Value, AppError> {
        let mut url = self.url(path)?;
        url.query_pairs_mut()
            .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        let response = self
            .authorized("GET", path, Idempotency::Idempotent, |token| {
                self.request(reqwest::Method::GET, url.clone(), token)
            })
            .await?;
        Ok(parse_json(API, "GET", path, &response.body)?)
    }
}

/// The `results` array of an answer, every entry an object; taken out of `body` (a page is
/// moved, not copied).
pub(crate) fn results_of(
    body: &mut Value,
    method: &str,
    path: &str,
) -> Result<Vec<Value>, AppError> {
    match body.get_mut("results") {
        Some(Value::Array(results)) if results.iter().all(Value::is_object) => {
            Ok(std::mem::take(results))
        }
        Some(Value::Array(_)) => Err(malformed(
            method,
            path,
            "`results` holds something other than objects",
        )),
        _ => Err(malformed(method, path, "response has no `results` array")),
    }
}

/// A 2xx answer we cannot understand.
pub(crate) fn malformed(method: &str, path: &str, detail: &str) -> AppError {
    HttpError::Malformed {
        api: API,
        method: method.to_owned(),
        path: format!("/{path}"),
        detail: detail.to_owned(),
    }
    .into()
}

/// The next page's `after`, if any.
pub(crate) fn next_after(body: &Value) -> Option<String> {
    body.pointer("/paging/next/after")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The `properties` object of a mapped record, values as strings (HubSpot's wire format).
pub(crate) fn properties_of(record: &Value) -> serde_json::Map<String, Value> {
    let Some(Value::Object(props)) = record.get("properties") else {
        return serde_json::Map::new();
    };
    props
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Value::Number(n) => Value::String(n.to_string()),
                Value::Bool(b) => Value::String(b.to_string()),
                other => other.clone(),
            };
            (k.clone(), v)
        })
        .collect()
}

/// A property as HubSpot sent it.
pub(crate) fn property_str<'a>(record: &'a Value, name: &str) -> Option<&'a str> {
    record.get("properties")?.get(name)?.as_str()
}

/// A non-blank property, trimmed.
pub(crate) fn property(record: &Value, name: &str) -> Option<String> {
    property_str(record, name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// A record's id (HubSpot sends strings; numbers are tolerated).
pub(crate) fn record_id(record: &Value) -> Option<String> {
    match record.get("id") {
        Some(Value::String(id)) if !id.is_empty() => Some(id.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// A search filter.
pub(crate) fn filter(property: &str, operator: &str, value: impl Into<Value>) -> Value {
    json!({ "propertyName": property, "operator": operator, "value": value.into() })
}

/// HubSpot's error envelope to a message.
pub(crate) fn hubspot_error_detail(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(value) => hubspot_message(&value),
        Err(_) => format!("non-JSON error body ({} bytes)", body.len()),
    }
}

/// `CATEGORY: message` of one error object.
pub(crate) fn hubspot_message(value: &Value) -> String {
    let category = value
        .get("category")
        .and_then(Value::as_str)
        .unwrap_or("ERROR");
    let message = value
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("no message");
    format!("{category}: {message}")
}

/// An error every further call would meet too (credentials, permissions): worth stopping for.
pub(crate) fn is_fatal(error: &AppError) -> bool {
    match error {
        AppError::NeedsReauthorization { .. } | AppError::Credentials { .. } => true,
        AppError::Http(HttpError::Status { status, .. }) => matches!(status, 401 | 403),
        _ => false,
    }
}
