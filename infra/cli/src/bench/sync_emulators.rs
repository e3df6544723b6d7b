//! The emulators of `connector bench sync`: a child `connector emulate` process (so that the
//! peak memory measured is the engine's and the store's alone), seeding, call statistics, the
//! changes between the phases (made through each API, so they get new modification times), and
//! the counts the checks compare.

use std::process::{Command, Stdio};

use serde_json::{Value, json};

use super::{BenchError, ChildGuard, free_port, wait_ready};
use crate::demo::GROUP;

/// Records per seeding call.
const SEED_CHUNK: usize = 1000;
/// Ops per Connec! `/batch` call (the emulator's default maximum).
const CONNEC_BATCH: usize = 50;
/// Inputs per HubSpot batch call.
const HUBSPOT_BATCH: usize = 100;

/// Call counters of both emulators.
#[derive(Debug, Default, Clone)]
pub struct Calls {
    /// Read calls.
    pub reads: u64,
    /// Write calls.
    pub writes: u64,
    /// Per route, both APIs (`connec GET /api/...`, `hubspot POST /crm/...`).
    pub by_route: Vec<(String, u64)>,
}

/// The two emulators, running in a child process until this is dropped.
pub struct Emulators {
    child: ChildGuard,
    http: reqwest::Client,
    /// Connec!'s base URL.
    pub connec: String,
    /// HubSpot's base URL.
    pub hubspot: String,
}

impl Emulators {
    /// Starts `connector emulate` on free ports and waits until both answer.
    pub async fn start() -> Result<Self, BenchError> {
        let (connec_port, hubspot_port, xero_port) = (free_port()?, free_port()?, free_port()?);
        let exe = std::env::current_exe().map_err(|e| BenchError::Process(e.to_string()))?;
        let child = Command::new(exe)
            .args([
                "emulate",
                "--connec-port",
                &connec_port.to_string(),
                "--hubspot-port",
                &hubspot_port.to_string(),
                "--xero-port",
                &xero_port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| BenchError::Process(format!("cannot start `connector emulate`: {e}")))?;
        let emulators = Self {
            child: ChildGuard(child),
            http: reqwest::Client::new(),
            connec: format!("http://127.0.0.1:{connec_port}"),
            hubspot: format!("http://127.0.0.1:{hubspot_port}"),
        };
        wait_ready(&emulators.http, &emulators.connec).await?;
        wait_ready(&emulators.http, &emulators.hubspot).await?;
        Ok(emulators)
    }

    /// Seeds `organizations` organizations and `people` people into Connec!, person `i` working
    /// for organization `i / 10` (so only one chunk of organization ids is held at a time), and
    /// returns the Connec! ids of the people `wanted` names (ascending indexes).
    pub async fn seed(
        &self,
        people: usize,
        organizations: usize,
        wanted: &[usize],
    ) -> Result<Vec<String>, BenchError> {
        let mut wanted_ids = Vec::with_capacity(wanted.len());
        let mut next_wanted = wanted.iter().peekable();
        let per_org = people.div_ceil(organizations).max(1);
        for org_start in (0..organizations).step_by(SEED_CHUNK) {
            let org_end = (org_start + SEED_CHUNK).min(organizations);
            let batch: Vec<Value> = (org_start..org_end)
                .map(|i| {
                    json!({
                        "name": format!("Company {i}"),
                        "website": { "url": format!("company{i}.example") },
                        "number_of_employees": i % 500,
                    })
                })
                .collect();
            let created = self.seed_chunk("organizations", &batch).await?;
            let org_ids: Vec<String> = created
                .iter()
                .filter_map(|r| connec::record::hub_id(r).map(|id| id.as_str().to_owned()))
                .collect();
            if org_ids.len() != batch.len() {
                return Err(BenchError::Check(format!(
                    "seeding organizations answered {} ids for {} records",
                    org_ids.len(),
                    batch.len()
                )));
            }
            let people_end = if org_end == organizations {
                people
            } else {
                (org_end * per_org).min(people)
            };
            for chunk_start in ((org_start * per_org).min(people)..people_end).step_by(SEED_CHUNK) {
                let chunk_end = (chunk_start + SEED_CHUNK).min(people_end);
                let batch: Vec<Value> = (chunk_start..chunk_end)
                    .map(|i| {
                        let org = &org_ids[(i / per_org).clamp(org_start, org_end - 1) - org_start];
                        json!({
                            "first_name": format!("First{i}"),
                            "last_name": format!("Last{i}"),
                            "email": { "address": format!("person{i}@bench.example") },
                            "job_title": "Engineer",
                            "organization_id": org,
                        })
                    })
                    .collect();
                let created = self.seed_chunk("people", &batch).await?;
                while let Some(&&i) = next_wanted.peek() {
                    if i >= chunk_end {
                        break;
                    }
                    let id = created
                        .get(i - chunk_start)
                        .and_then(connec::record::hub_id)
                        .ok_or_else(|| {
                            BenchError::Check(format!("seeded person {i} came back without an id"))
                        })?;
                    wanted_ids.push(id.as_str().to_owned());
                    next_wanted.next();
                }
            }
        }
        Ok(wanted_ids)
    }

    async fn seed_chunk(
        &self,
        collection: &str,
        batch: &[Value],
    ) -> Result<Vec<Value>, BenchError> {
        Ok(self
            .http
            .post(format!(
                "{}/_emulator/seed/{GROUP}/{collection}",
                self.connec
            ))
            .json(batch)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    /// CPU time (user + system) the emulators' process has used so far, seconds.
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds(&format!("/proc/{}/stat", self.child.0.id()))
    }

    /// Zeroes both emulators' call counters.
    pub async fn reset_calls(&self) -> Result<(), BenchError> {
        for base in [&self.connec, &self.hubspot] {
            self.http
                .post(format!("{base}/_emulator/stats/reset"))
                .send()
                .await?
                .error_for_status()?;
        }
        Ok(())
    }

    /// Both emulators' call counters.
    pub async fn calls(&self) -> Result<Calls, BenchError> {
        let mut calls = Calls::default();
        for (name, base) in [("connec", &self.connec), ("hubspot", &self.hubspot)] {
            let stats = super::emulator_stats(&self.http, base).await?;
            calls.reads += stats["reads"].as_u64().unwrap_or(0);
            calls.writes += stats["writes"].as_u64().unwrap_or(0);
            if let Some(routes) = stats["by_route"].as_object() {
                calls.by_route.extend(
                    routes
                        .iter()
                        .map(|(route, n)| (format!("{name} {route}"), n.as_u64().unwrap_or(0))),
                );
            }
        }
        Ok(calls)
    }

    /// Sets `job_title` of the Connec! people `ids` through `/batch` (`PUT` ops).
    pub async fn change_in_connec(&self, ids: &[String], title: &str) -> Result<(), BenchError> {
        for chunk in ids.chunks(CONNEC_BATCH) {
            let ops: Vec<Value> = chunk
                .iter()
                .map(|id| {
                    json!({
                        "method": "put",
                        "url": format!("/api/v2/{GROUP}/people/{id}"),
                        "params": { "people": { "job_title": title } },
                    })
                })
                .collect();
            let answer: Value = self
                .connec_request(reqwest::Method::POST, "/batch")
                .json(&json!({ "sequential": true, "ops": ops }))
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            let ok = answer["results"].as_array().is_some_and(|results| {
                results.len() == chunk.len() && results.iter().all(|r| r["status"] == 200)
            });
            if !ok {
                return Err(BenchError::Check(format!(
                    "changing people in Connec! failed: {answer}"
                )));
            }
        }
        Ok(())
    }

    /// Sets `jobtitle` of the HubSpot contacts `ids` through `batch/update`.
    pub async fn change_in_hubspot(&self, ids: &[String], title: &str) -> Result<(), BenchError> {
        for chunk in ids.chunks(HUBSPOT_BATCH) {
            let inputs: Vec<Value> = chunk
                .iter()
                .map(|id| json!({ "id": id, "properties": { "jobtitle": title } }))
                .collect();
            let answer: Value = self
                .hubspot_request("/crm/v3/objects/contacts/batch/update")
                .json(&json!({ "inputs": inputs }))
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            let updated = answer["results"].as_array().map_or(0, Vec::len);
            if updated != chunk.len() {
                return Err(BenchError::Check(format!(
                    "changing contacts in HubSpot updated {updated} of {}",
                    chunk.len()
                )));
            }
        }
        Ok(())
    }

    /// How many records of a Connec! collection match `filter` (all of them without one).
    pub async fn connec_count(
        &self,
        collection: &str,
        filter: Option<&str>,
    ) -> Result<u64, BenchError> {
        let mut request = self
            .connec_request(
                reqwest::Method::GET,
                &format!("/api/v2/{GROUP}/{collection}"),
            )
            .query(&[("$top", "1")]);
        if let Some(filter) = filter {
            request = request.query(&[("$filter", filter)]);
        }
        let answer: Value = request.send().await?.error_for_status()?.json().await?;
        answer["pagination"]["total"]
            .as_u64()
            .ok_or_else(|| BenchError::Check(format!("Connec! listing without a total: {answer}")))
    }

    /// How many HubSpot objects of `object` (`contacts`, `companies`) the search finds with
    /// `filters` (every one without filters).
    pub async fn hubspot_count(&self, object: &str, filters: &[Value]) -> Result<u64, BenchError> {
        let mut body = json!({ "limit": 1, "properties": ["hs_object_id"] });
        if !filters.is_empty() {
            body["filterGroups"] = json!([{ "filters": filters }]);
        }
        let answer: Value = self
            .hubspot_request(&format!("/crm/v3/objects/{object}/search"))
            .json(&body)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        answer["total"]
            .as_u64()
            .ok_or_else(|| BenchError::Check(format!("HubSpot search without a total: {answer}")))
    }

    fn connec_request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.connec))
            .basic_auth("demo-id", Some("demo-key"))
    }

    fn hubspot_request(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.hubspot))
            .bearer_auth("demo-token")
    }
}

/// User + system CPU time of the process whose `/proc/.../stat` is at `path`, seconds (0 if it
/// cannot be read).
pub fn cpu_seconds(path: &str) -> f64 {
    // Fields 14 and 15 (utime, stime) in clock ticks of 1/100 s (USER_HZ), counted after the
    // command name, which may hold spaces but ends at the last `)`.
    std::fs::read_to_string(path)
        .ok()
        .and_then(|stat| {
            let rest = &stat[stat.rfind(')')? + 1..];
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
            Some((ticks(11)? + ticks(12)?) as f64 / 100.0)
        })
        .unwrap_or(0.0)
}
