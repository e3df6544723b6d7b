//! Talking to the API: authorised requests with the tenant header, Xero's dates, its error
//! bodies and its per-element validation errors.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use http_client::{HttpResponse, Idempotency, parse_json};
use reqwest::Method;
use serde_json::Value;
use sync_core::domain::Timestamp;
use sync_core::error::{AppError, HttpError};
use url::Url;

use crate::API;
use crate::connector::XeroConnector;

/// The header naming the tenant (organisation) of every call.
pub const TENANT_HEADER: &str = "xero-tenant-id";
/// The header that makes a write safe to retry.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// One request.
pub(crate) struct Call<'a> {
    pub method: Method,
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<&'a Value>,
    pub since: Option<Timestamp>,
    pub key: Option<String>,
    pub idempotency: Idempotency,
}

impl<'a> Call<'a> {
    /// A `GET`.
    pub fn get(path: impl Into<String>) -> Self {
        Self {
            method: Method::GET,
            path: path.into(),
            query: Vec::new(),
            body: None,
            since: None,
            key: None,
            idempotency: Idempotency::Idempotent,
        }
    }

    /// A request with a JSON body; idempotent (updates) unless given a key-less create.
    pub fn send(method: Method, path: impl Into<String>, body: &'a Value) -> Self {
        Self {
            body: Some(body),
            method,
            ..Self::get(path)
        }
    }

    /// Adds a query parameter.
    pub fn query(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }
}

impl XeroConnector {
    fn url(&self, path: &str, query: &[(&'static str, String)]) -> Result<Url, HttpError> {
        let mut url = self
            .config
            .base_url
            .join(path)
            .map_err(|e| HttpError::Url {
                api: API,
                detail: format!("cannot join `{path}`: {e}"),
            })?;
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        Ok(url)
    }

    /// Sends a call and returns the raw 2xx answer. A 401 renews the token once.
    pub(crate) async fn call(&self, call: &Call<'_>) -> Result<HttpResponse, AppError> {
        let url = self.url(&call.path, &call.query)?;
        let since = call
            .since
            .map(|since| if_modified_since(since.minus(self.config.overlap)));
        let build = |token: &str| {
            let mut request = self
                .api
                .http()
                .request(call.method.clone(), url.clone())
                .bearer_auth(token)
                .header(TENANT_HEADER, self.tenant.as_str())
                .header("Accept", "application/json");
            if let Some(since) = &since {
                request = request.header("If-Modified-Since", since);
            }
            if let Some(key) = &call.key {
                request = request.header(IDEMPOTENCY_HEADER, key);
            }
            if let Some(body) = call.body {
                request = request.json(body);
            }
            request
        };
        let method = call.method.as_str();
        let token = self.token.bearer().await?;
        match self
            .api
            .send(method, &call.path, call.idempotency, || build(&token))
            .await
        {
            Err(HttpError::Status { status: 401, .. }) => {
                let token = self.token.renew().await?;
                Ok(self
                    .api
                    .send(method, &call.path, call.idempotency, || build(&token))
                    .await?)
            }
            other => Ok(other?),
        }
    }

    /// Sends a call and reads its JSON answer (an empty body is `null`).
    pub(crate) async fn json(&self, call: &Call<'_>) -> Result<Value, AppError> {
        let response = self.call(call).await?;
        if response.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        Ok(parse_json(
            API,
            call.method.as_str(),
            &call.path,
            &response.body,
        )?)
    }
}

/// The records of an answer's collection array (`{"Contacts": [...]}`), every one an object.
pub(crate) fn records_of(
    body: &Value,
    collection: &str,
    path: &str,
) -> Result<Vec<Value>, AppError> {
    match body.get(collection) {
        Some(Value::Array(records)) if records.iter().all(Value::is_object) => Ok(records.clone()),
        // Xero answers an empty list as `[]`: an answer without its collection is not "none"
        // (read as none, a read by id would take linked records for deleted).
        None | Some(Value::Null) => Err(malformed(path, &format!("no `{collection}` array"))),
        Some(_) => Err(malformed(
            path,
            &format!("`{collection}` is not an array of objects"),
        )),
    }
}

/// A 2xx answer we cannot understand.
pub(crate) fn malformed(path: &str, detail: &str) -> AppError {
    HttpError::Malformed {
        api: API,
        method: "GET".to_owned(),
        path: format!("/{path}"),
        detail: detail.to_owned(),
    }
    .into()
}

/// `If-Modified-Since` as the spec gives it (`format: date-time`): RFC 3339 in UTC with
/// milliseconds, as Xero's own SDKs send it.
///
/// ```
/// use sync_core::domain::Timestamp;
/// let at = Timestamp::parse("2024-05-01T10:00:00.5+02:00").unwrap();
/// assert_eq!(xero::if_modified_since(at), "2024-05-01T08:00:00.500Z");
/// ```
pub fn if_modified_since(at: Timestamp) -> String {
    at.as_datetime()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A Xero timestamp: `/Date(1503348544227+0000)/` (milliseconds since the epoch, UTC whatever the
/// offset suffix says), or an ISO 8601 date-time (`UpdatedDateUTCString`), naive ones in UTC.
///
/// ```
/// let at = xero::parse_xero_timestamp("/Date(1503348544227+0000)/").unwrap();
/// assert_eq!(at.to_rfc3339(), "2017-08-21T20:49:04.227Z");
/// assert!(xero::parse_xero_timestamp("yesterday").is_none());
/// ```
pub fn parse_xero_timestamp(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    if let Some(inner) = text
        .strip_prefix("/Date(")
        .and_then(|r| r.strip_suffix(")/"))
    {
        let (sign, body) = match inner.strip_prefix('-') {
            Some(rest) => (-1, rest),
            None => (1, inner),
        };
        let digits = body.find(['+', '-']).map_or(body, |i| &body[..i]);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let millis: i64 = digits.parse().ok()?;
        return DateTime::from_timestamp_millis(sign * millis).map(Timestamp::from_datetime);
    }
    DateTime::parse_from_rfc3339(text)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|d| d.and_utc())
        })
        .map(Timestamp::from_datetime)
}

/// A Xero timestamp in JSON (`/Date(ms+0000)/`).
pub fn format_xero_timestamp(at: Timestamp) -> String {
    format!("/Date({}+0000)/", at.epoch_millis())
}

/// The validation messages of one element of a write answer, joined; `None` when it has none.
pub fn validation_messages(element: &Value) -> Option<String> {
    let messages: Vec<&str> = element
        .get("ValidationErrors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("Message").and_then(Value::as_str))
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .collect();
    let flagged = element.get("HasValidationErrors").and_then(Value::as_bool) == Some(true)
        || element.get("HasErrors").and_then(Value::as_bool) == Some(true)
        || element.get("StatusAttributeString").and_then(Value::as_str) == Some("ERROR");
    if !messages.is_empty() {
        Some(messages.join("; "))
    } else if flagged {
        Some("Xero refused the record without saying why".to_owned())
    } else {
        None
    }
}

/// Xero's error body to a message: `Type: Message` (`ValidationException: A validation exception
/// occurred`) or a problem's `Title: Detail`. Element messages are not included here: they may
/// name the record's content, and this text reaches logs.
pub(crate) fn xero_error_detail(body: &[u8]) -> String {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return format!("non-JSON error body ({} bytes)", body.len());
    };
    let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::trim);
    match (text("Type"), text("Message"), text("Title"), text("Detail")) {
        (Some(kind), Some(message), _, _) => format!("{kind}: {message}"),
        (None, Some(message), _, _) => message.to_owned(),
        (_, _, Some(title), Some(detail)) => format!("{title}: {detail}"),
        (_, _, Some(title), None) => title.to_owned(),
        _ => "an error without a message".to_owned(),
    }
}

/// An error every further call would meet too (credentials, permissions, the day's quota).
pub(crate) fn is_fatal(error: &AppError) -> bool {
    match error {
        AppError::NeedsReauthorization { .. } | AppError::Credentials { .. } => true,
        AppError::Http(HttpError::Status { status, .. }) => matches!(status, 401 | 403),
        AppError::Http(HttpError::QuotaExhausted { .. }) => true,
        _ => false,
    }
}

/// The HTTP status of an error, when the API answered with one.
pub(crate) fn status_of(error: &AppError) -> Option<u16> {
    match error {
        AppError::Http(e) => e.status(),
        _ => None,
    }
}

/// A non-blank string field, trimmed.
pub(crate) fn text<'a>(record: &'a Value, field: &str) -> Option<&'a str> {
    record
        .get(field)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn xero_timestamps_read_both_forms() {
        let cases: &[(&str, Option<&str>)] = &[
            (
                "/Date(1503348544227+0000)/",
                Some("2017-08-21T20:49:04.227Z"),
            ),
            // The offset suffix does not move the instant: the count is UTC.
            (
                "/Date(1503348544227+1300)/",
                Some("2017-08-21T20:49:04.227Z"),
            ),
            ("/Date(1573755038314)/", Some("2019-11-14T18:10:38.314Z")),
            ("/Date(-1000+0000)/", Some("1969-12-31T23:59:59.000Z")),
            ("2019-11-14T18:10:38Z", Some("2019-11-14T18:10:38.000Z")),
            (
                "2019-12-07T18:46:19.5165400",
                Some("2019-12-07T18:46:19.516Z"),
            ),
            ("/Date(abc)/", None),
            ("/Date()/", None),
            ("", None),
        ];
        for (text, expected) in cases {
            assert_eq!(
                parse_xero_timestamp(text).map(|t| t.to_rfc3339()),
                expected.map(str::to_owned),
                "{text}"
            );
        }
        let at = Timestamp::parse("2017-08-21T20:49:04.227Z").unwrap();
        assert_eq!(format_xero_timestamp(at), "/Date(1503348544227+0000)/");
        assert_eq!(parse_xero_timestamp(&format_xero_timestamp(at)), Some(at));
        assert_eq!(if_modified_since(at), "2017-08-21T20:49:04.227Z");
    }

    #[test]
    fn validation_messages_are_joined_and_flags_count() {
        assert_eq!(validation_messages(&json!({ "ContactID": "x" })), None);
        assert_eq!(
            validation_messages(&json!({ "HasValidationErrors": false, "ValidationErrors": [] })),
            None
        );
        assert_eq!(
            validation_messages(&json!({ "ValidationErrors": [
                { "Message": "Name is taken" }, { "Message": " Email is invalid " }
            ]})),
            Some("Name is taken; Email is invalid".to_owned())
        );
        assert!(validation_messages(&json!({ "StatusAttributeString": "ERROR" })).is_some());
    }

    #[test]
    fn error_bodies_keep_the_summary_only() {
        let body = br#"{"ErrorNumber":10,"Type":"ValidationException","Message":"A validation exception occurred","Elements":[{"ValidationErrors":[{"Message":"ann@example.com is taken"}]}]}"#;
        let detail = xero_error_detail(body);
        assert_eq!(
            detail,
            "ValidationException: A validation exception occurred"
        );
        assert_eq!(
            xero_error_detail(br#"{"Title":"Unauthorized","Detail":"AuthenticationUnsuccessful"}"#),
            "Unauthorized: AuthenticationUnsuccessful"
        );
        assert_eq!(
            xero_error_detail(b"<html>"),
            "non-JSON error body (6 bytes)"
        );
    }
}
