//! The batch endpoints (`/crm/v3/objects/{objectType}/batch/{read,create,update,upsert,archive}`):
//! input limits, the whole-batch refusal of duplicate ids, per-input errors and HubSpot's
//! multi-status envelope.

use axum::http::StatusCode;
use chrono::Utc;
use serde_json::{Value, json};

use super::errors::Outcome;
use super::errors::category;
use super::objects::{selection, written_selection};
use super::routes::{Ctx, body_list};
use crate::common::{ApiError, iso, query_get, scalar_string};

/// One error entry of a batch (multi-status) response.
fn batch_error(e: &ApiError, context: Value) -> Value {
    // `errors` and `links` are required by HubSpot's generated client models.
    json!({
        "status": "error",
        "category": category(e),
        "message": e.to_string(),
        "context": context,
        "errors": [],
        "links": {},
    })
}

/// `{"objectWriteTraceId": [t]}` or `{"index": ["i"]}`, plus extra keys.
fn write_context(input: &Value, index: usize, extra: Option<(&str, Value)>) -> Value {
    let mut ctx = match input.get("objectWriteTraceId").and_then(scalar_string) {
        Some(t) => json!({ "objectWriteTraceId": [t] }),
        None => json!({ "index": [index.to_string()] }),
    };
    if let Some((k, v)) = extra {
        ctx[k] = v;
    }
    ctx
}

fn batch_envelope(
    results: Vec<Value>,
    errors: Vec<Value>,
    started: &str,
    ok: StatusCode,
) -> (StatusCode, Value) {
    // Not `json!`: it would serialize `results` into a copy.
    let mut m = serde_json::Map::new();
    m.insert("status".into(), "COMPLETE".into());
    m.insert("results".into(), Value::Array(results));
    m.insert("startedAt".into(), started.into());
    m.insert("completedAt".into(), iso(&Utc::now()).into());
    let mut body = Value::Object(m);
    if errors.is_empty() {
        (ok, body)
    } else {
        body["numErrors"] = errors.len().into();
        body["errors"] = Value::Array(errors);
        (StatusCode::MULTI_STATUS, body)
    }
}

fn inputs(body: &Value, max: usize) -> Result<&[Value], ApiError> {
    let items = body
        .get("inputs")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            ApiError::BadRequest("Invalid input JSON: 'inputs' must be an array".into())
        })?;
    if items.len() > max {
        return Err(ApiError::BadRequest(format!(
            "Batch input must contain at most {max} inputs, got {}",
            items.len()
        )));
    }
    Ok(items)
}

/// HubSpot's answer to a batch naming one id twice: `400` for the whole batch.
fn duplicate_ids(items: &[Value], id_of: impl Fn(&Value) -> Option<String>) -> Option<Value> {
    let mut seen = std::collections::HashSet::new();
    let mut dups: Vec<String> = Vec::new();
    for id in items.iter().filter_map(id_of) {
        if !seen.insert(id.clone()) && !dups.contains(&id) {
            dups.push(id);
        }
    }
    if dups.is_empty() {
        return None;
    }
    Some(json!({
        "status": "error",
        "message": format!("Duplicate IDs found in batch input: [{}]. IDs must be unique", dups.join(", ")),
        "correlationId": uuid::Uuid::new_v4().to_string(),
        "context": { "ids": dups },
        "category": "VALIDATION_ERROR",
    }))
}

/// The `id` of a batch input.
fn input_id(input: &Value) -> Option<String> {
    input.get("id").and_then(scalar_string)
}

/// `POST /crm/v3/objects/{objectType}/batch/read`.
pub(super) fn read(c: &Ctx, body: &Value) -> Outcome {
    let started = iso(&Utc::now());
    let items = inputs(body, c.inner.config.max_batch)?;
    let archived = query_get(&c.q, "archived").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let id_prop = body.get("idProperty").and_then(Value::as_str);
    if let Some(p) = id_prop.filter(|p| !c.t.unique_props().contains(p)) {
        return Err(ApiError::BadRequest(format!(
            "{p} is not a unique property of {}",
            c.t.name()
        )));
    }
    if let Some(dups) = duplicate_ids(items, input_id) {
        return Ok((StatusCode::BAD_REQUEST, Some(dups)));
    }
    let names = selection(c.t, &body_list(body, "properties"));
    let st = c.inner.state_at(c.source.portal);
    let (mut results, mut missing) = (Vec::new(), Vec::new());
    for input in items {
        let id = input.get("id").and_then(scalar_string).unwrap_or_default();
        let found = if archived {
            id.parse()
                .ok()
                .and_then(|n| st.obj(c.t, n))
                .filter(|o| o.archived())
        } else {
            st.resolve(c.t, &id, id_prop).and_then(|n| st.live(c.t, n))
        };
        match found {
            Some(o) => results.push(o.render(c.t, Some(&names), false)),
            None => missing.push(id),
        }
    }
    let errors = if missing.is_empty() {
        Vec::new()
    } else {
        let e = ApiError::NotFound(format!(
            "Could not get some {} objects, they may be deleted or not exist. Check that ids are valid.",
            c.t.upper()
        ));
        vec![batch_error(&e, json!({ "ids": missing }))]
    };
    drop(st);
    let results = c.inner.shuffled(results);
    let (status, v) = batch_envelope(results, errors, &started, StatusCode::OK);
    Ok((status, Some(v)))
}

/// `POST /crm/v3/objects/{objectType}/batch/create`.
pub(super) fn create(c: &Ctx, body: &Value) -> Outcome {
    let started = iso(&Utc::now());
    let items = inputs(body, c.inner.config.max_batch)?;
    let (results, errors) = c.inner.with_state(c.source.clone(), |st| {
        let (mut results, mut errors) = (Vec::new(), Vec::new());
        for (i, input) in items.iter().enumerate() {
            let props = input.get("properties").and_then(Value::as_object);
            match st.prepare(
                Some(&c.inner.instruments.faults),
                c.t,
                None,
                props,
                input.get("associations"),
            ) {
                Ok(p) => {
                    let (id, _) = st.commit(c.t, None, p);
                    let names = written_selection(c.t, props);
                    results.extend(st.obj(c.t, id).map(|o| o.render(c.t, Some(&names), false)));
                }
                Err(e) => errors.push(batch_error(&e, write_context(input, i, None))),
            }
        }
        (results, errors)
    });
    let results = c.inner.shuffled(results);
    let (status, v) = batch_envelope(results, errors, &started, StatusCode::CREATED);
    Ok((status, Some(v)))
}

/// `POST /crm/v3/objects/{objectType}/batch/update`.
pub(super) fn update(c: &Ctx, body: &Value) -> Outcome {
    let started = iso(&Utc::now());
    let items = inputs(body, c.inner.config.max_batch)?;
    if let Some(dups) = duplicate_ids(items, input_id) {
        return Ok((StatusCode::BAD_REQUEST, Some(dups)));
    }
    let (results, errors) = c.inner.with_state(c.source.clone(), |st| {
        let (mut results, mut errors) = (Vec::new(), Vec::new());
        for (i, input) in items.iter().enumerate() {
            let id = input.get("id").and_then(scalar_string).unwrap_or_default();
            let id_prop = input.get("idProperty").and_then(Value::as_str);
            let props = input.get("properties").and_then(Value::as_object);
            let Some(oid) = st
                .resolve(c.t, &id, id_prop)
                .filter(|n| st.live(c.t, *n).is_some())
            else {
                let e = ApiError::NotFound(format!("Could not find {} with id {id}", c.t.upper()));
                errors.push(batch_error(
                    &e,
                    write_context(input, i, Some(("ids", json!([id])))),
                ));
                continue;
            };
            match st.prepare(
                Some(&c.inner.instruments.faults),
                c.t,
                Some(oid),
                props,
                None,
            ) {
                Ok(p) => {
                    st.commit(c.t, Some(oid), p);
                    let names = written_selection(c.t, props);
                    results.extend(st.obj(c.t, oid).map(|o| o.render(c.t, Some(&names), false)));
                }
                Err(e) => errors.push(batch_error(&e, write_context(input, i, None))),
            }
        }
        (results, errors)
    });
    let results = c.inner.shuffled(results);
    let (status, v) = batch_envelope(results, errors, &started, StatusCode::OK);
    Ok((status, Some(v)))
}

/// `POST /crm/v3/objects/{objectType}/batch/upsert`.
pub(super) fn upsert(c: &Ctx, body: &Value) -> Outcome {
    let started = iso(&Utc::now());
    let items = inputs(body, c.inner.config.max_batch)?;
    for input in items {
        let p = input
            .get("idProperty")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !c.t.unique_props().contains(&p) {
            return Err(ApiError::BadRequest(format!(
                "idProperty '{p}' is not a unique property of {}; use one of {:?}",
                c.t.name(),
                c.t.unique_props()
            )));
        }
    }
    let upsert_key = |input: &Value| {
        let id = input_id(input)?;
        Some(match input.get("idProperty").and_then(Value::as_str) {
            Some("email") => id.trim().to_lowercase(),
            _ => id,
        })
    };
    if let Some(dups) = duplicate_ids(items, upsert_key) {
        return Ok((StatusCode::BAD_REQUEST, Some(dups)));
    }
    let (results, errors) = c.inner.with_state(c.source.clone(), |st| {
        let (mut results, mut errors) = (Vec::new(), Vec::new());
        for (i, input) in items.iter().enumerate() {
            let id_prop = input
                .get("idProperty")
                .and_then(Value::as_str)
                .unwrap_or("");
            let id = input.get("id").and_then(scalar_string).unwrap_or_default();
            let mut props = input
                .get("properties")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let existing = st
                .resolve(c.t, &id, Some(id_prop))
                .filter(|n| st.live(c.t, *n).is_some());
            if existing.is_none() {
                if id_prop == "hs_object_id" {
                    let e =
                        ApiError::NotFound(format!("Could not find {} with id {id}", c.t.upper()));
                    errors.push(batch_error(
                        &e,
                        write_context(input, i, Some(("ids", json!([id])))),
                    ));
                    continue;
                }
                props
                    .entry(id_prop.to_string())
                    .or_insert_with(|| Value::String(id.clone()));
            }
            match st.prepare(
                Some(&c.inner.instruments.faults),
                c.t,
                existing,
                Some(&props),
                input.get("associations"),
            ) {
                Ok(p) => {
                    let (oid, created) = st.commit(c.t, existing, p);
                    let names = written_selection(c.t, Some(&props));
                    if let Some(mut o) =
                        st.obj(c.t, oid).map(|o| o.render(c.t, Some(&names), false))
                    {
                        o["new"] = Value::Bool(created);
                        results.push(o);
                    }
                }
                Err(e) => errors.push(batch_error(&e, write_context(input, i, None))),
            }
        }
        (results, errors)
    });
    let results = c.inner.shuffled(results);
    let (status, v) = batch_envelope(results, errors, &started, StatusCode::OK);
    Ok((status, Some(v)))
}

/// `POST /crm/v3/objects/{objectType}/batch/archive`.
pub(super) fn archive(c: &Ctx, body: &Value) -> Outcome {
    let items = inputs(body, c.inner.config.max_batch)?;
    if let Some(dups) = duplicate_ids(items, input_id) {
        return Ok((StatusCode::BAD_REQUEST, Some(dups)));
    }
    c.inner.with_state(c.source.clone(), |st| {
        for input in items {
            if let Some(id) = input
                .get("id")
                .and_then(scalar_string)
                .and_then(|s| s.parse().ok())
            {
                st.archive(c.t, id);
            }
        }
    });
    Ok((StatusCode::NO_CONTENT, None))
}
