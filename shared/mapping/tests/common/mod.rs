//! Fixtures shared by the integration tests: the people mapping of
//! `fixtures/people.yaml` and a hub record exercising every rule of it.

use mapping::{EntityMapping, FunctionRegistry};
use serde_json::{Value, json};

pub const PEOPLE: &str = include_str!("../fixtures/people.yaml");

pub fn people() -> EntityMapping {
    EntityMapping::from_yaml_str(PEOPLE, "people.yaml", &FunctionRegistry::new()).unwrap()
}

pub fn sample_hub() -> Value {
    json!({
        "id": "p-1",
        "first_name": "Ann",
        "email": {"address": "  Ann@Example.IO "},
        "is_customer": true,
        "number_of_employees": 12,
        "phone_work": {"landline": "+44 1"},
        "status": "INACTIVE",
        "birth_date": "1990-04-05T00:00:00Z",
        "organization_id": "org-9",
        "lines": [
            {"description": "Widget", "quantity": 2, "item_id": "item-1", "unit_price": 3.5},
            {"description": "", "quantity": 0.5},
        ],
    })
}
