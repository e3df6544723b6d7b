//! Page latency of the emulators' lists and searches at growing record counts: what the sync
//! calls per page (Connec! offset pages, HubSpot searches and lists, Xero pages since a date),
//! over HTTP on loopback, plus seeding throughput through the `/_emulator/seed` routes.
//!
//! `cargo bench -p emulators` (sizes: `EMU_BENCH_SIZES=10000,100000,1000000`, the default;
//! apps: `EMU_BENCH_APPS=connec,hubspot,xero`). Prints medians; asserts nothing about time.

use std::time::{Duration, Instant};

use emulators::{ConnecEmulator, HubSpotEmulator, XeroConfig, XeroEmulator, XeroLimits};
use reqwest::Client;
use serde_json::{Value, json};

/// Calls per measured figure.
const REPS: usize = 7;
/// A Connec! group the measured listings do not read.
const G_OTHER: &str = "other";
/// Records per seeding call.
const CHUNK: usize = 10_000;

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// Times `REPS` calls of `f` (each checked by `f`), returns the median.
async fn timed<F, Fut>(mut f: F) -> Duration
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut xs = Vec::with_capacity(REPS);
    for i in 0..REPS {
        let t = Instant::now();
        f(i).await;
        xs.push(t.elapsed());
    }
    median(xs)
}

async fn json_of(rb: reqwest::RequestBuilder) -> Value {
    let r = rb.send().await.expect("request");
    let status = r.status();
    let body: Value = r.json().await.expect("json body");
    assert!(status.is_success(), "{status}: {body}");
    body
}

/// Seeds `n` records through `url`, `CHUNK` per call; returns records per second and every
/// hundredth record as answered.
async fn seed(c: &Client, url: &str, n: usize, make: impl Fn(usize) -> Value) -> (f64, Vec<Value>) {
    let t = Instant::now();
    let mut sample = Vec::new();
    let mut i = 0;
    while i < n {
        let end = (i + CHUNK).min(n);
        let batch: Vec<Value> = (i..end).map(&make).collect();
        let answered = json_of(c.post(url).json(&batch)).await;
        let answered = answered.as_array().cloned().unwrap_or_default();
        assert_eq!(answered.len(), end - i, "seeded");
        sample.extend(answered.into_iter().step_by(100));
        i = end;
    }
    (n as f64 / t.elapsed().as_secs_f64(), sample)
}

fn report(app: &str, n: usize, what: &str, d: Duration) {
    println!("{app:8} {n:>8} {what:58} {}", ms(d));
}

async fn connec(c: &Client, n: usize) {
    let emu = ConnecEmulator::default();
    let srv = emu.start().await.expect("start");
    let base = srv.base_url.clone();
    let (rate, sample) = seed(c, &format!("{base}/_emulator/seed/g/people"), n, |i| {
        json!({ "first_name": format!("P{i}"), "email": { "address": format!("p{i}@bench.example") } })
    })
    .await;
    println!("connec   {n:>8} seeding {rate:>52.0} records/s");
    let get = |query: String| {
        c.get(format!("{base}/api/v2/g/people?{query}"))
            .basic_auth("demo-id", Some("demo-key"))
            .header("CONNEC-EXTERNAL-IDS", "true")
    };
    let order = "%24orderby=created_at%20asc%2C%20id%20asc&%24top=100";
    for (label, skip) in [("first", 0), ("middle", n / 2), ("last", n - 100)] {
        let d = timed(|_| {
            let rb = get(format!("{order}&%24skip={skip}"));
            async move {
                let body = json_of(rb).await;
                assert_eq!(body["people"].as_array().map(Vec::len), Some(100));
            }
        })
        .await;
        report(
            "connec",
            n,
            &format!("list page ($top=100, $skip {label})"),
            d,
        );
    }
    // 1% changed since a mark: the incremental listing.
    // The emulator's clock runs ahead of real time while writes come faster than one per
    // millisecond: take the mark from a write of its own.
    let marker = emu.seed(G_OTHER, "organizations", json!({ "name": "mark" }));
    let mark = marker["updated_at"]
        .as_str()
        .expect("updated_at")
        .to_owned();
    let first = json_of(get(format!("{order}&%24skip=0"))).await;
    let ids: Vec<String> = first["people"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["id"][0]["id"].as_str().map(String::from))
        .collect();
    for (i, p) in sample.iter().enumerate() {
        let id = p["id"][0]["id"].as_str().expect("id");
        emu.update("g", "people", id, json!({ "last_name": format!("L{i}") }));
    }
    let filter = format!(
        "{order}&%24filter=updated_at%20gt%20%27{}%27",
        urlencode(&mark)
    );
    let t = Instant::now();
    let body = json_of(get(format!("{filter}&%24skip=0"))).await;
    report("connec", n, "changed since (1%): first page", t.elapsed());
    assert_eq!(body["pagination"]["total"], json!(n.div_ceil(100)));
    let d = timed(|i| {
        let rb = get(format!("{filter}&%24skip={}", (i * 100) % (n / 100).max(1)));
        async move {
            json_of(rb).await;
        }
    })
    .await;
    report("connec", n, "changed since (1%): next pages", d);
    // An id write-back between pages: the write the views follow.
    let d = timed(|i| {
        let rb = c
            .put(format!("{base}/api/v2/g/people/{}", ids[i]))
            .basic_auth("demo-id", Some("demo-key"))
            .header("CONNEC-EXTERNAL-IDS", "true")
            .json(&json!({ "people": { "id": [{ "id": format!("h{i}"), "provider": "hubspot", "realm": "1" }] } }));
        async move {
            json_of(rb).await;
        }
    })
    .await;
    report("connec", n, "PUT id write-back", d);
}

fn urlencode(s: &str) -> String {
    s.replace(':', "%3A").replace('+', "%2B")
}

async fn hubspot(c: &Client, n: usize) {
    let emu = HubSpotEmulator::default();
    let srv = emu.start().await.expect("start");
    let base = srv.base_url.clone();
    let (rate, sample) = seed(
        c,
        &format!("{base}/_emulator/seed/contacts"),
        n,
        |i| json!({ "email": format!("p{i}@bench.example"), "firstname": format!("P{i}") }),
    )
    .await;
    println!("hubspot  {n:>8} seeding {rate:>52.0} records/s");
    let token = "demo-token";
    let first_id: u64 = sample[0]["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("an id");
    let d = timed(|i| {
        let after = first_id + (n as u64 / REPS as u64) * i as u64;
        let rb = c
            .get(format!(
                "{base}/crm/v3/objects/contacts?limit=100&after={after}"
            ))
            .bearer_auth(token);
        async move {
            json_of(rb).await;
        }
    })
    .await;
    report("hubspot", n, "list page (limit=100, after cursor)", d);
    let search = |body: Value| {
        c.post(format!("{base}/crm/v3/objects/contacts/search"))
            .bearer_auth(token)
            .json(&body)
    };
    let d = timed(|i| {
        let emails: Vec<String> = (0..10)
            .map(|k| format!("p{}@bench.example", (i * 7919 + k * 104_729) % n))
            .collect();
        let rb = search(json!({
            "filterGroups": [{ "filters": [{ "propertyName": "email", "operator": "IN", "values": emails }] }],
            "sorts": [{ "propertyName": "hs_object_id", "direction": "ASCENDING" }],
            "properties": ["email"], "limit": 100,
        }));
        async move {
            let body = json_of(rb).await;
            assert_eq!(body["total"], json!(10));
        }
    })
    .await;
    report("hubspot", n, "search email IN (10 values), by id", d);
    // The newest hundred contacts (from the last sampled one on), then all of them.
    let newest = chrono::DateTime::parse_from_rfc3339(
        sample[sample.len() - 1]["updatedAt"]
            .as_str()
            .expect("date"),
    )
    .expect("date")
    .timestamp_millis();
    for (label, from) in [("newest 100", newest), ("all", 0)] {
        let d = timed(|_| {
            let rb = search(json!({
                "filterGroups": [{ "filters": [{ "propertyName": "lastmodifieddate", "operator": "GTE", "value": from.to_string() }] }],
                "sorts": [{ "propertyName": "lastmodifieddate", "direction": "ASCENDING" }],
                "properties": ["email"], "limit": 100,
            }));
            async move {
                json_of(rb).await;
            }
        })
        .await;
        report(
            "hubspot",
            n,
            &format!("search modified since ({label}), by date"),
            d,
        );
    }
}

async fn xero(c: &Client, n: usize) {
    let emu = XeroEmulator::new(XeroConfig {
        limits: XeroLimits {
            per_minute: u32::MAX,
            per_day: u32::MAX,
            app_per_minute: u32::MAX,
            ..XeroLimits::default()
        },
        ..XeroConfig::default()
    });
    let tenant = emu.tenants()[0].clone();
    let token = emu.grant(&[&tenant]).access_token;
    let srv = emu.start().await.expect("start");
    let base = srv.base_url.clone();
    let (rate, _) = seed(
        c,
        &format!("{base}/_emulator/seed/{tenant}/Contacts"),
        n,
        |i| json!({ "Name": format!("Contact {i}"), "EmailAddress": format!("c{i}@bench.example") }),
    )
    .await;
    println!("xero     {n:>8} seeding {rate:>52.0} records/s");
    let pages = n.div_ceil(100);
    for (label, page) in [("first", 1), ("middle", pages / 2), ("last", pages)] {
        let d = timed(|_| {
            let rb = c
                .get(format!(
                    "{base}/api.xro/2.0/Contacts?order=UpdatedDateUTC%20ASC&page={page}&pageSize=100&includeArchived=true"
                ))
                .bearer_auth(&token)
                .header("xero-tenant-id", &tenant)
                .header("accept", "application/json")
                .header("If-Modified-Since", "2000-01-01T00:00:00Z");
            async move {
                let body = json_of(rb).await;
                assert_eq!(body["Contacts"].as_array().map(Vec::len), Some(100));
            }
        })
        .await;
        report(
            "xero",
            n,
            &format!("page since a date ({label} page of 100)"),
            d,
        );
    }
}

fn main() {
    let sizes: Vec<usize> = std::env::var("EMU_BENCH_SIZES")
        .unwrap_or_else(|_| "10000,100000,1000000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let apps = std::env::var("EMU_BENCH_APPS").unwrap_or_else(|_| "connec,hubspot,xero".into());
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let c = Client::new();
        println!("app      records measurement (median of {REPS})");
        for &n in &sizes {
            let n = n.max(1000);
            if apps.contains("connec") {
                connec(&c, n).await;
            }
            if apps.contains("hubspot") {
                hubspot(&c, n).await;
            }
            if apps.contains("xero") {
                xero(&c, n).await;
            }
        }
    });
}
