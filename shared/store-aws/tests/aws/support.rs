//! Starts (or finds) moto, and builds SDK clients against it.

use store_aws::{DynamoStore, create_table};

#[allow(unused_imports)]
pub use store_aws::testing::{MotoServer, moto, sdk_config, unique};

pub async fn dynamo() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&sdk_config().await)
}

/// A store on a fresh table.
pub async fn store() -> DynamoStore {
    let client = dynamo().await;
    let table = unique("sync");
    create_table(&client, &table).await.expect("create table");
    DynamoStore::new(client, table)
}
