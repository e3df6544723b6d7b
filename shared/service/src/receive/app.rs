//! An app's webhooks: verified by the app's provider on the raw request, parsed into events,
//! routed to the organization of each event's account, deduplicated on the event's key.

use std::collections::BTreeMap;

use sync_core::domain::{AppId, EntityName, OrgId};
use sync_core::ports::WorkItem;
use webhooks::RawRequest;

use super::{Claimed, ReceiveError, Received, Unavailable, WebhookReceiver};

impl WebhookReceiver {
    /// A webhook of the app `provider`: verified, parsed, routed, deduplicated and queued.
    pub async fn app_webhook(
        &self,
        provider: &str,
        request: &RawRequest<'_>,
    ) -> Result<Received, ReceiveError> {
        let Some((app, webhooks)) = self
            .apps
            .get(provider)
            .and_then(|app| app.webhooks().map(|w| (app, w)))
        else {
            return Err(ReceiveError::NoWebhooks(provider.to_owned()));
        };
        let now = self.clock.now();
        if let Err(rejection) = webhooks.verifier().verify(request, now.as_datetime()) {
            tracing::warn!(provider, status = rejection.status, "app webhook rejected");
            return Err(rejection.into());
        }
        let events = webhooks.parse(request.body)?;
        let organizations = match self.store.list_organizations().await {
            Ok(orgs) => orgs,
            Err(e) => {
                tracing::error!(provider, error = %e, "cannot read organizations");
                return Err(ReceiveError::Unavailable(Unavailable::ReadOrganizations));
            }
        };
        let mut batches: BTreeMap<(OrgId, EntityName), Claimed<AppId>> = BTreeMap::new();
        let (mut duplicates, mut ignored) = (0usize, 0usize);
        for event in events {
            let Some(entity) = app
                .entities()
                .iter()
                .find(|pair| pair.app == event.entity)
                .map(|pair| &pair.hub)
            else {
                ignored += 1;
                continue;
            };
            let Some(org) = organizations
                .iter()
                .find(|o| o.provider == *app.id() && o.realm == event.realm)
            else {
                tracing::info!(provider, realm = %event.realm, "webhook ignored: account not linked");
                ignored += 1;
                continue;
            };
            if !org.sync_enabled || !org.flags(entity).to_hub {
                ignored += 1;
                continue;
            }
            // Claimed only now that it has work; released below if that work is not queued.
            let key = event.dedupe_key;
            match self.dedupe.first_time(&key, now, self.dedupe_ttl).await {
                Ok(true) => {}
                Ok(false) => {
                    duplicates += 1;
                    continue;
                }
                Err(e) => {
                    tracing::error!(provider, error = %e, "cannot record the event id");
                    self.release(batches.into_values()).await;
                    return Err(ReceiveError::Unavailable(Unavailable::AcceptWebhooks));
                }
            }
            let batch = batches.entry((org.id.clone(), entity.clone())).or_default();
            if !batch.items.contains(&event.id) {
                batch.items.push(event.id);
            }
            batch.keys.push(key);
        }
        let accepted = self
            .queue_batches(
                batches,
                |org, entity, ids| WorkItem::AppChanges { org, entity, ids },
                Unavailable::AcceptWebhooks,
            )
            .await?;
        Ok(Received {
            accepted,
            duplicates,
            ignored,
            acknowledgement: webhooks.verifier().acknowledgement(),
        })
    }
}
