//! Records with lines (invoices) and references inside their lines (`lines[].item_id`), and
//! records linking other records through their lines (payments -> invoices), both ways: a
//! reference not synced yet defers the record, which completes on the next run with the
//! reference resolved.

mod support;

use connec::testing::Fakes;
use mapping::{EntityMapping, FunctionRegistry};
use serde_json::{Value, json};
use support::{World, prop};
use sync_core::domain::{Direction, RunStatus};
use sync_core::entity::EntityPair;
use sync_core::testing::FakeApp;

const ITEMS: &str = "
fields:
  - { hub: name, app: properties.name }
  - { hub: code, app: properties.sku }
";

const INVOICES: &str = "
fields:
  - { hub: transaction_number, app: properties.number }
  - hub: lines
    app: properties.lines
    lines:
      fields:
        - { hub: description, app: text }
        - { hub: quantity, app: qty }
      references:
        - { hub: item_id, app: product, entity: items }
";

const PAYMENTS: &str = "
fields:
  - { hub: amount.total_amount, app: properties.amount }
  - hub: lines
    app: properties.applied
    lines:
      fields:
        - { hub: amount, app: amount }
      references:
        - hub: 'linked_transactions[].id'
          app: 'invoices[]'
          entity: invoices
";

fn accounting_world() -> World {
    let functions = FunctionRegistry::default();
    let load =
        |yaml: &str, name: &str| EntityMapping::from_yaml_str(yaml, name, &functions).unwrap();
    let pairs = vec![
        EntityPair::new("items", "products", load(ITEMS, "items.yaml")).matching(&["code"]),
        EntityPair::new("invoices", "bills", load(INVOICES, "invoices.yaml")),
        EntityPair::new("payments", "receipts", load(PAYMENTS, "payments.yaml")),
    ];
    let fakes = Fakes::sample();
    let app = FakeApp::new(
        sync_core::testing::SAMPLE_PROVIDER,
        pairs,
        fakes.clock.clone(),
    );
    World::over(Fakes { app, ..fakes })
}

fn line_item(record: &Value, n: usize) -> &Value {
    &record["properties"]["lines"][n]["product"]
}

/// Whether a hub reference names `id` (a plain id or an id array holding it).
fn refers_to(reference: &Value, id: &str) -> bool {
    match reference {
        Value::String(s) => s == id,
        Value::Array(ids) => ids.iter().any(|e| e["id"] == id),
        _ => false,
    }
}

#[tokio::test]
async fn an_invoice_whose_item_is_not_synced_yet_waits_and_completes_with_the_line_resolved() {
    let world = accounting_world();
    let chair = world.hub_seed("items", json!({ "name": "Chair", "code": "CH-1" }));
    let desk = world.hub_seed("items", json!({ "name": "Desk", "code": "DK-1" }));
    let invoice = world.hub_seed(
        "invoices",
        json!({ "transaction_number": "INV-1", "lines": [
            { "description": "two chairs", "quantity": 2, "item_id": chair.as_str() },
            { "description": "a desk", "quantity": 1, "item_id": desk.as_str() },
        ] }),
    );
    // The desk cannot be created in the app this time.
    world.fakes.app.reject(desk.as_str());

    let first = world.sync().await;

    assert_eq!(first.status, RunStatus::Partial, "{first:?}");
    assert_eq!(first.counts_for("invoices", Direction::ToApp).deferred, 1);
    assert!(
        world
            .map_of_hub("invoices", &invoice)
            .await
            .and_then(|m| m.app_id)
            .is_none()
    );

    world.fakes.app.accept(desk.as_str());
    let second = world.sync().await;

    assert_eq!(second.status, RunStatus::Success, "{second:?}");
    assert_eq!(second.counts_for("invoices", Direction::ToApp).created, 1);
    let bill = world.app_get("bills", &world.app_id_of("invoices", &invoice).await);
    assert_eq!(
        (line_item(&bill, 0), line_item(&bill, 1)),
        (
            &json!(world.app_id_of("items", &chair).await.as_str()),
            &json!(world.app_id_of("items", &desk).await.as_str())
        ),
        "each line names its item's app id: {bill}"
    );
    assert_eq!(bill["properties"]["lines"][0]["qty"], 2);
}

#[tokio::test]
async fn an_app_invoice_naming_an_item_created_after_the_items_were_read_waits_one_run() {
    let world = accounting_world();
    let chair = world
        .fakes
        .app
        .seed("products", json!({ "name": "Chair", "sku": "CH-1" }));
    world.sync().await;
    // An invoice naming an item the app does not show yet (created while the run went on, or
    // not readable yet): it waits rather than travel without its line's item.
    world.fakes.app.seed(
        "bills",
        json!({ "number": "B-7", "lines": [
            { "text": "a chair", "qty": 1, "product": chair.as_str() },
            { "text": "a lamp", "qty": 3, "product": "lamp-to-come" },
        ] }),
    );

    let run = world.sync().await;
    assert_eq!(
        run.counts_for("invoices", Direction::ToHub).deferred,
        1,
        "{run:?}"
    );
    assert!(world.hub_all("invoices").is_empty());

    let lamp = world.fakes.app.seed(
        "products",
        json!({ "id": "lamp-to-come", "name": "Lamp", "sku": "LP-1" }),
    );
    let run = world.sync().await;

    assert_eq!(run.status, RunStatus::Success, "{run:?}");
    let invoices = world.hub_all("invoices");
    assert_eq!(invoices.len(), 1, "{invoices:?}");
    let lines = invoices[0]["lines"].as_array().expect("lines");
    let lamp_hub = world.hub_id_of("items", &lamp).await;
    assert!(
        refers_to(&lines[1]["item_id"], lamp_hub.as_str()),
        "{lines:?}"
    );
    assert_eq!(lines[1]["quantity"], 3);
}

#[tokio::test]
async fn a_payment_links_to_its_invoice_on_both_sides() {
    let world = accounting_world();
    let invoice = world.hub_seed(
        "invoices",
        json!({ "transaction_number": "INV-9", "lines": [ { "description": "work", "quantity": 1 } ] }),
    );
    let payment = world.hub_seed(
        "payments",
        json!({ "amount": { "total_amount": 50 }, "lines": [
            { "amount": 50, "linked_transactions": [ { "id": invoice.as_str() } ] },
        ] }),
    );

    let run = world.sync().await;

    assert_eq!(run.status, RunStatus::Success, "{run:?}");
    let bill_id = world.app_id_of("invoices", &invoice).await;
    let receipt = world.app_get("receipts", &world.app_id_of("payments", &payment).await);
    assert_eq!(*prop(&receipt, "amount"), 50);
    assert_eq!(
        receipt["properties"]["applied"][0]["invoices"],
        json!([bill_id.as_str()])
    );

    // And from the app: a receipt of the bill reaches Connec! linked to the invoice.
    world.fakes.app.seed(
        "receipts",
        json!({ "amount": 20, "applied": [ { "amount": 20, "invoices": [bill_id.as_str()] } ] }),
    );
    let run = world.sync().await;
    assert_eq!(
        run.counts_for("payments", Direction::ToHub).created,
        1,
        "{run:?}"
    );
    let from_app = world
        .hub_all("payments")
        .into_iter()
        .find(|p| p["amount"]["total_amount"] == 20)
        .expect("the app's payment in Connec!");
    let linked = &from_app["lines"][0]["linked_transactions"][0]["id"];
    assert!(refers_to(linked, invoice.as_str()), "{from_app}");
}

/// The accounting sample (the engine benchmark's invoices): an invoice reaches the app with its
/// organization and each line's item as app ids, after its references.
#[tokio::test]
async fn the_accounting_sample_pushes_invoices_with_their_organization_and_line_items() {
    let world = World::over(Fakes::sample_accounting());
    let org = world.hub_seed("organizations", json!({ "name": "Acme" }));
    let chair = world.hub_seed(
        "items",
        json!({ "name": "Chair", "code": "CH-1", "sale_price": { "net_amount": 40 } }),
    );
    let invoice = world.hub_seed(
        "invoices",
        json!({
            "transaction_number": "INV-1",
            "transaction_date": "2026-11-30T00:00:00Z",
            "amount": { "currency": "EUR" },
            "organization_id": org.as_str(),
            "lines": [
                { "description": "a chair", "quantity": 1, "unit_price": { "net_amount": 40 }, "item_id": chair.as_str() },
                { "description": "another", "quantity": 2, "unit_price": { "net_amount": 38 }, "item_id": chair.as_str() },
            ],
        }),
    );

    let run = world.sync().await;

    assert_eq!(run.status, RunStatus::Success, "{run:?}");
    let bill = world.app_get("bills", &world.app_id_of("invoices", &invoice).await);
    let chair_app = world.app_id_of("items", &chair).await;
    assert_eq!(
        *prop(&bill, "company_id"),
        json!(world.app_id_of("organizations", &org).await.as_str())
    );
    assert_eq!(*prop(&bill, "number"), "INV-1");
    assert_eq!(*prop(&bill, "currency"), "EUR");
    assert_eq!(line_item(&bill, 0), &json!(chair_app.as_str()));
    assert_eq!(line_item(&bill, 1), &json!(chair_app.as_str()));
    assert_eq!(bill["properties"]["lines"][1]["price"], 38);
    let product = world.app_get("products", &chair_app);
    assert_eq!(*prop(&product, "sku"), "CH-1");
    assert_eq!(*prop(&product, "price"), 40);

    // Nothing changed: the next run writes nothing.
    world.fakes.app.reset_counts();
    let again = world.sync().await;
    assert_eq!(again.status, RunStatus::Success, "{again:?}");
    assert_eq!(world.fakes.app.counts().calls, 0, "{again:?}");
}
