//! A Connec! `/batch` whose ops are all `get`s is one read in the call statistics; a batch with
//! any other op stays a write; call faults and the rate limit treat both as the `POST /batch`
//! they are.

use emulators::{CallFault, CallStats, ConnecConfig, ConnecEmulator, RateLimit, RunningServer};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

const G: &str = "grp1";

async fn start(config: ConnecConfig) -> (ConnecEmulator, RunningServer) {
    let emu = ConnecEmulator::new(config);
    let srv = emu.start().await.expect("start");
    (emu, srv)
}

async fn batch(srv: &RunningServer, ops: Value) -> (StatusCode, Value) {
    let answer = Client::new()
        .post(format!("{}/batch", srv.base_url))
        .basic_auth("demo-id", Some("demo-key"))
        .header("CONNEC-EXTERNAL-IDS", "true")
        .json(&json!({ "ops": ops }))
        .send()
        .await
        .expect("answer");
    let status = answer.status();
    (status, answer.json().await.unwrap_or(Value::Null))
}

fn get_op(id: &str) -> Value {
    json!({ "method": "get", "url": format!("/api/v2/{G}/people/{id}") })
}

fn counts(stats: &CallStats) -> (u64, u64, Option<u64>, Option<u64>) {
    (
        stats.reads,
        stats.writes,
        stats.by_route.get("POST /batch").copied(),
        stats.by_route.get("batch-ops").copied(),
    )
}

#[tokio::test]
async fn a_batch_of_get_ops_is_one_read() {
    let (emu, srv) = start(ConnecConfig::default()).await;
    let a = emu.seed(G, "people", json!({ "first_name": "A" }));
    let a_id = a["id"][0]["id"].as_str().unwrap().to_owned();
    emu.reset_stats();
    // Upper case and a missing method are `get`s too, as the ops run.
    let ops = json!([
        get_op(&a_id),
        get_op("missing"),
        { "method": "GET", "url": format!("/api/v2/{G}/people/{a_id}") },
        { "url": format!("/api/v2/{G}/people?$top=1") },
    ]);
    let (status, body) = batch(&srv, ops).await;
    assert_eq!(status, StatusCode::OK);
    let statuses: Vec<&Value> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["status"])
        .collect();
    assert_eq!(
        statuses,
        [&json!(200), &json!(404), &json!(200), &json!(200)]
    );
    assert_eq!(
        body["results"][0]["body"]["people"]["first_name"],
        json!("A")
    );
    assert_eq!(counts(&emu.stats()), (1, 0, Some(1), Some(4)));
}

#[tokio::test]
async fn a_batch_with_any_other_op_or_none_is_a_write() {
    let (emu, srv) = start(ConnecConfig::default()).await;
    let put = json!({ "method": "put", "url": format!("/api/v2/{G}/people/x"), "params": {} });
    let post = json!({ "method": "post", "url": format!("/api/v2/{G}/people"),
                       "params": { "people": { "first_name": "B" } } });
    batch(&srv, json!([get_op("x"), put])).await;
    batch(&srv, json!([post, get_op("y")])).await;
    batch(&srv, json!([])).await;
    batch(
        &srv,
        json!([{ "method": "delete", "url": "/api/v2/g/people/x" }]),
    )
    .await;
    let stats = emu.stats();
    assert_eq!(counts(&stats), (0, 4, Some(4), Some(5)));
    assert_eq!(emu.records(G, "people").len(), 1, "the post ran");
}

#[tokio::test]
async fn call_faults_on_batch_fail_a_batch_of_gets_too() {
    let (emu, srv) = start(ConnecConfig::default()).await;
    emu.fail_calls(CallFault::status("/batch", 503, 1));
    let (status, _) = batch(&srv, json!([get_op("x")])).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, _) = batch(&srv, json!([get_op("x")])).await;
    assert_eq!(status, StatusCode::OK, "the fault was used up");
    let stats = emu.stats();
    assert_eq!(counts(&stats), (2, 0, Some(2), Some(1)));
    assert_eq!(stats.rejected, 1);
}

#[tokio::test]
async fn a_batch_of_gets_counts_against_the_rate_limit() {
    let (emu, srv) = start(ConnecConfig {
        rate_limit: Some(RateLimit {
            max: 1,
            interval_ms: 60_000,
        }),
        ..ConnecConfig::default()
    })
    .await;
    let (status, _) = batch(&srv, json!([get_op("x")])).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = batch(&srv, json!([get_op("x")])).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let stats = emu.stats();
    assert_eq!((stats.reads, stats.writes, stats.rejected), (2, 0, 1));
}
