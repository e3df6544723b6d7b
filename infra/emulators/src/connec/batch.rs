//! `POST /batch`: several API operations in one call, each answered with its own status and
//! body.

use axum::body::Bytes;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use super::Inner;
use super::errors::{Outcome, cannot_delete, error_body, parse_json};
use super::routes::{ApiOp, exec};
use super::state::State;
use crate::common::{ApiError, lock, not_supported, query_pairs};

/// `POST /batch` with `{"ops": [{"method", "url", "params"}, ...]}`: every op runs under one
/// state lock; the answer is `200 {"results": [{"status", "body"}, ...]}`.
pub(super) fn batch(inner: &Inner, bytes: &Bytes, ext: bool, base: &str) -> Outcome {
    let body = parse_json(bytes)?;
    let Some(ops) = body.get("ops").and_then(Value::as_array) else {
        return Err(ApiError::BadRequest(
            "Batch body must contain an 'ops' array".into(),
        ));
    };
    if ops.len() > inner.config.max_batch_ops {
        return Err(ApiError::BadRequest(format!(
            "Too many operations in batch: {} (max {})",
            ops.len(),
            inner.config.max_batch_ops
        )));
    }
    lock(&inner.instruments.stats).add("batch-ops", ops.len() as u64);
    let results: Vec<Value> = inner.with_state(|st| {
        ops.iter()
            .map(|op| {
                let (status, body) = match batch_op(inner, st, op, ext, base) {
                    Ok(x) => x,
                    Err(e) => (e.status(), error_body(e.status(), &e.to_string())),
                };
                // Not `json!`: it would serialize `body` into a copy.
                Value::Object(serde_json::Map::from_iter([
                    ("status".to_owned(), Value::from(status.as_u16())),
                    ("body".to_owned(), body),
                ]))
            })
            .collect()
    });
    let results = Value::Object(serde_json::Map::from_iter([(
        "results".to_owned(),
        Value::Array(results),
    )]));
    Ok((StatusCode::OK, results))
}

/// Whether a `/batch` body only reads: it holds ops and each is a `get` (an op without a
/// method string is one, as [`batch_op`] runs it). Anything else, unparsable bodies included,
/// is a write. Only the methods are decoded: the params of a write batch are skipped over.
pub(super) fn only_reads(bytes: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Ops {
        ops: Vec<Op>,
    }
    #[derive(Deserialize)]
    struct Op {
        #[serde(default)]
        method: Option<Value>,
    }
    serde_json::from_slice::<Ops>(bytes).is_ok_and(|body| {
        !body.ops.is_empty()
            && body.ops.iter().all(|op| {
                op.method
                    .as_ref()
                    .and_then(Value::as_str)
                    .is_none_or(|method| method.eq_ignore_ascii_case("get"))
            })
    })
}

fn batch_op(inner: &Inner, st: &mut State, op: &Value, ext: bool, base: &str) -> Outcome {
    let method = op
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or("get")
        .to_ascii_lowercase();
    let url = op
        .get("url")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::BadRequest("Op has no url".into()))?;
    // Accept absolute URLs too: keep only the path and query.
    let rel = match url.find("://") {
        Some(i) => url[i + 3..]
            .find('/')
            .map(|j| &url[i + 3 + j..])
            .unwrap_or("/"),
        None => url,
    };
    let (path, query) = rel
        .split_once('?')
        .map(|(p, q)| (p, Some(q)))
        .unwrap_or((rel, None));
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let ["api", "v2", group, coll, rest @ ..] = segs.as_slice() else {
        return Err(ApiError::NotFound(format!("No route for {url}")));
    };
    let null = Value::Null;
    let params = op.get("params").unwrap_or(&null);
    let api_op = match (method.as_str(), rest) {
        ("get", []) => ApiOp::List {
            q: query_pairs(query),
        },
        ("get", [id]) => ApiOp::Get { id },
        ("post", []) => ApiOp::Post { body: params },
        ("put" | "patch", [id]) => ApiOp::Put { id, body: params },
        ("delete", _) => return Err(cannot_delete()),
        _ => return Err(not_supported(&method, url)),
    };
    exec(inner, st, group, coll, api_op, ext, base)
}
