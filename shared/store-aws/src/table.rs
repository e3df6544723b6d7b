//! [`create_table`]: the table, its index and its TTL, for tests and local runs.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
};
use sync_core::error::StoreError;

use crate::attr::{GSI1, GSI1PK, GSI1SK, PK, SK, TTL};
use crate::error::{backend, build_error, has_code};

/// Creates the table (on-demand billing, `PK`/`SK`, GSI1 with all attributes, TTL on
/// `expires_at`) and waits until it is active. For tests and local runs; in AWS the SAM
/// template creates it. An existing table is left as it is.
///
/// # Errors
///
/// [`StoreError::Backend`] when DynamoDB refuses, or the table does not become active within
/// two minutes.
pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
    const OP: &str = "create_table";
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| build_error(OP, e))
    };
    let schema = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .map_err(|e| build_error(OP, e))
    };
    let gsi = GlobalSecondaryIndex::builder()
        .index_name(GSI1)
        .key_schema(schema(GSI1PK, KeyType::Hash)?)
        .key_schema(schema(GSI1SK, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(|e| build_error(OP, e))?;
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr(PK)?)
        .attribute_definitions(attr(SK)?)
        .attribute_definitions(attr(GSI1PK)?)
        .attribute_definitions(attr(GSI1SK)?)
        .key_schema(schema(PK, KeyType::Hash)?)
        .key_schema(schema(SK, KeyType::Range)?)
        .global_secondary_indexes(gsi)
        .send()
        .await;
    if let Err(err) = created {
        if has_code(&err, "ResourceInUseException") {
            return Ok(());
        }
        return Err(backend(OP, table, &err));
    }
    let mut waited = Duration::ZERO;
    loop {
        let described = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| backend(OP, table, &e))?;
        let status = described.table().and_then(|t| t.table_status().cloned());
        if status == Some(TableStatus::Active) {
            break;
        }
        if waited > Duration::from_secs(120) {
            return Err(StoreError::Backend(format!(
                "{OP}: table {table} is not active after two minutes"
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        waited += Duration::from_millis(200);
    }
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(TTL)
                .build()
                .map_err(|e| build_error(OP, e))?,
        )
        .send()
        .await
        .map_err(|e| backend(OP, table, &e))?;
    tracing::info!(table, "DynamoDB table created");
    Ok(())
}
