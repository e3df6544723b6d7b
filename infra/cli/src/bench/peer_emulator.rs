//! The emulator's side of `connector bench peer`: seeding, call counters, and the floor (every
//! page fetched with plain GETs and nothing done with the records), which tells how much of
//! each side's time is the emulator's.

use std::time::Instant;

use serde_json::{Value, json};

use super::BenchError;
use crate::demo::GROUP;

/// Reads every page of `people` with plain GETs (Basic auth, the external-ids header, the same
/// `$top` and `$orderby` as both sides), following `pagination.next`: (seconds, records).
pub async fn floor(
    http: &reqwest::Client,
    connec: &str,
    page_size: usize,
) -> Result<(f64, u64), BenchError> {
    let started = Instant::now();
    let mut url = reqwest::Url::parse_with_params(
        &format!("{connec}/api/v2/{GROUP}/people"),
        [
            ("$top", page_size.to_string()),
            ("$orderby", connec::DEFAULT_LIST_ORDER.to_owned()),
        ],
    )
    .map_err(|e| BenchError::Process(e.to_string()))?;
    let mut records = 0u64;
    loop {
        let page: Value = http
            .get(url)
            .basic_auth("demo-id", Some("demo-key"))
            .header("CONNEC-EXTERNAL-IDS", "true")
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        records += page["people"].as_array().map_or(0, |a| a.len() as u64);
        match page["pagination"]["next"].as_str() {
            Some(next) => {
                url = reqwest::Url::parse(next).map_err(|e| BenchError::Process(e.to_string()))?
            }
            None => break,
        }
    }
    Ok((started.elapsed().as_secs_f64(), records))
}

/// Emulator stats: (reads, writes), then reset.
pub async fn take_stats(http: &reqwest::Client, base: &str) -> Result<(u64, u64), BenchError> {
    let stats = super::emulator_stats(http, base).await?;
    http.post(format!("{base}/_emulator/stats/reset"))
        .send()
        .await?
        .error_for_status()?;
    Ok((
        stats["reads"].as_u64().unwrap_or(0),
        stats["writes"].as_u64().unwrap_or(0),
    ))
}

/// Seeds `organizations` organizations and `people` people, each person in an organization.
pub async fn seed(
    http: &reqwest::Client,
    connec: &str,
    people: usize,
    organizations: usize,
) -> Result<(), BenchError> {
    let mut org_ids = Vec::with_capacity(organizations);
    for start in (0..organizations).step_by(1000) {
        let batch: Vec<Value> = (start..(start + 1000).min(organizations))
            .map(|i| json!({ "name": format!("Company {i}"), "website": { "url": format!("company{i}.example") }, "number_of_employees": i % 500 }))
            .collect();
        let created: Vec<Value> = http
            .post(format!("{connec}/_emulator/seed/{GROUP}/organizations"))
            .json(&batch)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        org_ids.extend(created.iter().filter_map(connec::record::hub_id));
    }
    if org_ids.len() != organizations {
        return Err(BenchError::Process(format!(
            "seeded {organizations} organizations, the emulator answered {} ids",
            org_ids.len()
        )));
    }
    for start in (0..people).step_by(1000) {
        let batch: Vec<Value> = (start..(start + 1000).min(people))
            .map(|i| {
                json!({
                    "first_name": format!("First{i}"), "last_name": format!("Last{i}"),
                    "email": { "address": format!("person{i}@bench.example") },
                    "job_title": "Engineer",
                    "organization_id": org_ids[i % org_ids.len()].as_str(),
                })
            })
            .collect();
        http.post(format!("{connec}/_emulator/seed/{GROUP}/people"))
            .json(&batch)
            .send()
            .await?
            .error_for_status()?;
    }
    Ok(())
}
