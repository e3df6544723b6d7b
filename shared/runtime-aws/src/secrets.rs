//! The cold start's configuration secrets, read in one `BatchGetSecretValue` call (up to 20
//! names a call, Secrets Manager's limit): one round trip instead of one a secret, which a
//! server answering one request at a time (moto) or a distant region would serialise.
//!
//! Each secret's failure names that secret and never its value: a secret Secrets Manager lists
//! in the answer's `Errors` (missing, access denied to it), one it returns without a string
//! value, one absent from the answer. A refusal of the whole call names every secret asked for.
//! There is no fallback to one `GetSecretValue` a secret: the functions' policies grant
//! `secretsmanager:BatchGetSecretValue` (template.yaml), and a second code path would only
//! hide a policy that lost it.

use std::collections::HashMap;

use aws_sdk_secretsmanager::error::DisplayErrorContext;

use crate::SetupError;

/// Secret names per call: `SecretIdList` holds at most 20.
const NAMES_PER_CALL: usize = 20;

/// Pages followed per call before giving up (the answer of 20 names fits one page; a
/// `NextToken` that never ends would otherwise loop).
const MAX_PAGES: usize = 20;

/// The string values of `names`, keyed by name, each read in the one batch call.
///
/// # Errors
///
/// [`SetupError::Secret`] naming the first secret (in `names`' order) that is missing, denied,
/// absent from the answer or not a string; [`SetupError::Secrets`] naming them all when the
/// call itself fails.
pub(crate) async fn read_all(
    client: &aws_sdk_secretsmanager::Client,
    names: &[String],
) -> Result<HashMap<String, String>, SetupError> {
    let mut values = HashMap::new();
    let mut refused: HashMap<String, String> = HashMap::new();
    let mut not_strings = Vec::new();
    for chunk in names.chunks(NAMES_PER_CALL) {
        let mut next_token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let answer = client
                .batch_get_secret_value()
                .set_secret_id_list(Some(chunk.to_vec()))
                .set_next_token(next_token.take())
                .send()
                .await
                .map_err(|e| SetupError::Secrets {
                    names: chunk.join("`, `"),
                    detail: format!("cannot read them ({})", DisplayErrorContext(&e)),
                })?;
            for entry in answer.secret_values() {
                let Some(name) = entry.name() else { continue };
                match entry.secret_string() {
                    Some(text) => {
                        values.insert(name.to_owned(), text.to_owned());
                    }
                    None => not_strings.push(name.to_owned()),
                }
            }
            for error in answer.errors() {
                let Some(name) = error.secret_id() else {
                    continue;
                };
                let code = error.error_code().unwrap_or("error");
                let detail = match error.message() {
                    Some(message) => format!("{code}: {message}"),
                    None => code.to_owned(),
                };
                refused.insert(name.to_owned(), detail);
            }
            next_token = answer.next_token().map(str::to_owned);
            if next_token.is_none() {
                break;
            }
        }
    }
    for name in names {
        if let Some(detail) = refused.get(name) {
            return Err(secret_error(name, format!("cannot read it ({detail})")));
        }
        if not_strings.contains(name) {
            return Err(secret_error(name, "has no string value".into()));
        }
        if !values.contains_key(name) {
            return Err(secret_error(
                name,
                "cannot read it (not in Secrets Manager's answer)".into(),
            ));
        }
    }
    Ok(values)
}

/// The secret `name`'s JSON `text` as `T`; an error names the secret, never the value.
pub(crate) fn parse<T: serde::de::DeserializeOwned>(
    name: &str,
    text: &str,
) -> Result<T, SetupError> {
    serde_json::from_str(text).map_err(|e| {
        secret_error(
            name,
            format!("is not the expected JSON ({})", classify_name(&e)),
        )
    })
}

fn secret_error(name: &str, detail: String) -> SetupError {
    SetupError::Secret {
        name: name.to_owned(),
        detail,
    }
}

/// serde_json error categories without the input text.
fn classify_name(error: &serde_json::Error) -> &'static str {
    match error.classify() {
        serde_json::error::Category::Io => "I/O",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "missing or wrongly typed fields",
        serde_json::error::Category::Eof => "truncated",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    struct Pair {
        #[allow(dead_code)]
        api_id: String,
    }

    #[test]
    fn malformed_json_names_the_secret_and_never_its_value() {
        let error = parse::<Pair>("p/connec/t", "{\"api_id\": 7, \"api_key\": \"hunter2\"}")
            .unwrap_err()
            .to_string();
        assert!(error.contains("p/connec/t"), "{error}");
        assert!(error.contains("missing or wrongly typed fields"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
        let error = parse::<Pair>("p/connec/t", "hunter2")
            .unwrap_err()
            .to_string();
        assert!(error.contains("syntax error") && !error.contains("hunter2"));
    }
}
