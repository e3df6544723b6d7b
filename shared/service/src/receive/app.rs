//! An app's webhooks: verified by the app's provider on the raw request, parsed into events,
//! routed to the organization of each event's account, deduplicated on the event's key.

use sync_core::domain::{AppId, EntityName, Organization};
use sync_core::ports::WorkItem;
use webhooks::RawRequest;

use super::{Candidate, ReceiveError, Received, Unavailable, WebhookReceiver};

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
        self.within_limit(events.len())?;
        let organizations = match self.store.list_organizations().await {
            Ok(orgs) => orgs,
            Err(e) => {
                tracing::error!(provider, error = %e, "cannot read organizations");
                return Err(ReceiveError::Unavailable(Unavailable::ReadOrganizations));
            }
        };
        let mut candidates: Vec<Candidate<AppId>> = Vec::new();
        let mut ignored = 0usize;
        for event in events {
            // A pair's app entity, or a complex entity's (whose records hold several pairs'
            // parts: the engine splits them, whichever member the work names).
            let members: Vec<&EntityName> =
                match app.entities().iter().find(|pair| pair.app == event.entity) {
                    Some(pair) => vec![&pair.hub],
                    None => app
                        .groups()
                        .iter()
                        .find(|group| group.app == event.entity)
                        .map(|group| group.members.iter().collect())
                        .unwrap_or_default(),
                };
            if members.is_empty() {
                ignored += 1;
                continue;
            }
            // The account's enabled organization: an unlinked one (sync off) with the same
            // account, which may sort first, must not swallow the event.
            let linked = |o: &&Organization| o.provider == *app.id() && o.realm == event.realm;
            let Some(org) = organizations.iter().filter(linked).find(|o| o.sync_enabled) else {
                let reason = if organizations.iter().any(|o| linked(&o)) {
                    "sync off"
                } else {
                    "account not linked"
                };
                tracing::info!(provider, realm = %event.realm, reason, "webhook ignored");
                ignored += 1;
                continue;
            };
            let Some(entity) = members.into_iter().find(|m| org.flags(m).to_hub) else {
                ignored += 1;
                continue;
            };
            // Claimed only now that it has work; released if that work is not queued.
            candidates.push(Candidate {
                org: org.id.clone(),
                entity: entity.clone(),
                item: event.id,
                key: event.dedupe_key,
            });
        }
        let (batches, duplicates) = self
            .claim(candidates, now, true, Unavailable::AcceptWebhooks)
            .await?;
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
