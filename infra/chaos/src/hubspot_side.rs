//! HubSpot as the suite's app: contacts and companies on the HubSpot emulator, edited through
//! its objects' properties; a person's company is `associatedcompanyid`.

use std::sync::Arc;

use connector_sdk::AppProvider;
use emulators::{CallFault, CallStats, ChangeHook, HubSpotEmulator, RecordFault, RunningServer};
use serde_json::{Value, json};
use service::Tuning;
use sync_core::domain::{Provider, Realm, Timestamp};

use crate::app::{App, AppSide, FaultPaths, NewRecord};
use crate::ledger::{Fields, Kind, text};

/// The HubSpot portal of the emulator's default account.
pub const PORTAL: &str = "62515";

/// HubSpot request paths any fault may match.
const ANY: &[&str] = &[
    "/crm/v3/objects/",
    "/contacts",
    "/companies",
    "/search",
    "/batch/create",
    "/batch/update",
    "/batch/read",
];
/// HubSpot write paths (lost answers).
const WRITES: &[&str] = &[
    "/contacts/batch/create",
    "/companies/batch/create",
    "/batch/create",
    "/batch/update",
    "/batch/archive",
];

/// The HubSpot emulator, running.
pub struct HubSpotSide {
    /// The emulator.
    pub emulator: HubSpotEmulator,
    server: RunningServer,
}

impl HubSpotSide {
    /// Starts the emulator on a free loopback port.
    pub async fn start() -> std::io::Result<Self> {
        let emulator = HubSpotEmulator::new(emulators::HubSpotConfig::default());
        let server = emulator.start().await?;
        Ok(Self { emulator, server })
    }
}

/// The HubSpot object type of a kind.
pub fn object(kind: Kind) -> &'static str {
    match kind {
        Kind::Person => "contacts",
        Kind::Company => "companies",
    }
}

/// Where the key lives among a HubSpot object's properties.
fn app_key(kind: Kind) -> &'static str {
    match kind {
        Kind::Person => "firstname",
        Kind::Company => "name",
    }
}

/// HubSpot properties of the edited fields, in [`Fields`] order.
fn properties_of(kind: Kind) -> [&'static str; 4] {
    match kind {
        Kind::Person => ["lastname", "jobtitle", "phone", "city"],
        Kind::Company => ["numberofemployees", "phone", "city", "country"],
    }
}

fn app_properties(kind: Kind, fields: &Fields) -> Value {
    let mut properties = json!({});
    for (name, value) in properties_of(kind).iter().zip(&fields.0) {
        properties[*name] = json!(value);
    }
    properties
}

impl AppSide for HubSpotSide {
    fn app(&self) -> App {
        App::HubSpot
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn url(&self) -> &str {
        &self.server.base_url
    }

    fn provider(&self, tuning: &Tuning) -> Result<Arc<dyn AppProvider>, String> {
        hubspot::HubSpotProvider::new(
            hubspot::HubSpotSettings::private_app(&self.server.base_url, "demo-token", PORTAL),
            &tuning.build_context("http://127.0.0.1"),
        )
        .map(|p| Arc::new(p) as Arc<dyn AppProvider>)
        .map_err(|e| e.to_string())
    }

    fn link(&self) -> (Provider, Realm) {
        (Provider::new(hubspot::PROVIDER), Realm::new(PORTAL))
    }

    fn hub_paths(&self, kind: Kind) -> &'static [&'static str] {
        match kind {
            Kind::Person => &[
                "last_name",
                "job_title",
                "phone_work.landline",
                "address_work.billing.city",
            ],
            Kind::Company => &[
                "number_of_employees",
                "phone.landline",
                "address.billing.city",
                "address.billing.country",
            ],
        }
    }

    fn fields_of_edit(&self, kind: Kind, seq: u64) -> Fields {
        Fields(match kind {
            Kind::Person => vec![
                format!("L{seq}"),
                format!("J{seq}"),
                format!("555{seq}"),
                format!("C{seq}"),
            ],
            Kind::Company => vec![
                (seq + 1).to_string(),
                format!("777{seq}"),
                format!("C{seq}"),
                format!("K{seq}"),
            ],
        })
    }

    fn all(&self, kind: Kind) -> Vec<Value> {
        self.emulator.all_objects_including_archived(object(kind))
    }

    fn get(&self, kind: Kind, id: &str) -> Option<Value> {
        self.emulator.get(object(kind), id)
    }

    fn id_of(&self, _kind: Kind, record: &Value) -> Option<String> {
        record.get("id").and_then(Value::as_str).map(str::to_owned)
    }

    fn key_of(&self, kind: Kind, record: &Value) -> Option<String> {
        record
            .pointer(&format!("/properties/{}", app_key(kind)))
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    fn is_archived(&self, record: &Value) -> bool {
        record.get("archived").and_then(Value::as_bool) == Some(true)
    }

    fn stamp(&self, _kind: Kind, record: &Value) -> Option<Timestamp> {
        record
            .get("updatedAt")
            .and_then(Value::as_str)
            .and_then(Timestamp::parse)
    }

    fn fields_of(&self, kind: Kind, record: &Value) -> Fields {
        Fields(
            properties_of(kind)
                .iter()
                .map(|name| text(record.get("properties").and_then(|p| p.get(*name))))
                .collect(),
        )
    }

    fn email_of(&self, record: &Value) -> Option<String> {
        record
            .pointer("/properties/email")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_lowercase)
    }

    fn company_of(&self, record: &Value) -> Option<String> {
        record
            .pointer("/properties/associatedcompanyid")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    }

    fn create(&self, kind: Kind, new: NewRecord<'_>) -> Option<Value> {
        let mut properties = app_properties(kind, new.fields);
        properties[app_key(kind)] = json!(new.key);
        if let Some(email) = new.email {
            properties["email"] = json!(email);
        }
        if let Some(id) = new.company {
            properties["associatedcompanyid"] = json!(id);
        }
        Some(self.emulator.seed(object(kind), properties))
    }

    fn update(&self, kind: Kind, id: &str, fields: &Fields) -> Option<Value> {
        self.emulator
            .update(object(kind), id, app_properties(kind, fields))
    }

    fn unmapped(&self, kind: Kind, id: &str, seq: u64) -> bool {
        let property = match kind {
            Kind::Person => "website",
            Kind::Company => "description",
        };
        self.emulator
            .update(object(kind), id, json!({ property: format!("note {seq}") }))
            .is_some()
    }

    fn archive(&self, kind: Kind, id: &str) -> bool {
        self.emulator.archive(object(kind), id)
    }

    fn fail_record(&self, kind: Kind, key: &str, times: u32) {
        self.emulator.fail_record(RecordFault {
            field: app_key(kind).to_owned(),
            value: key.into(),
            times: Some(times),
        });
    }

    fn fail_calls(&self, rule: CallFault) {
        self.emulator.fail_calls(rule);
    }

    fn fault_paths(&self) -> FaultPaths {
        FaultPaths {
            any: ANY,
            writes: WRITES,
        }
    }

    fn clear_faults(&self) {
        self.emulator.clear_faults();
    }

    fn stats(&self) -> CallStats {
        self.emulator.stats()
    }

    fn reset_stats(&self) {
        self.emulator.reset_stats();
    }

    fn on_change(&self, hook: ChangeHook) {
        self.emulator.on_change(hook);
    }

    fn entity_of_change(&self, collection: &str) -> Option<&'static str> {
        Some(if collection == "companies" {
            "organizations"
        } else {
            "people"
        })
    }
}
