//! Connec! notifications: HTTP Basic with the tenant's credentials, then each record routed to
//! every organization of its group whose app syncs its collection, deduplicated per version.

use std::collections::HashMap;

use serde_json::Value;
use sync_core::domain::{EntityName, Organization, Tenant};
use sync_core::ports::WorkItem;
use webhooks::{RawRequest, Verifier};

use super::{Candidate, ReceiveError, Received, Unavailable, WebhookReceiver};

impl WebhookReceiver {
    /// A Connec! notification for `tenant`: verified, routed, deduplicated and queued.
    pub async fn connec(
        &self,
        tenant: &str,
        request: &RawRequest<'_>,
    ) -> Result<Received, ReceiveError> {
        // An unknown tenant is answered as a known one with wrong credentials would be.
        let verifier: &dyn Verifier = match self.tenants.get(&Tenant::new(tenant)) {
            Some(verifier) => verifier.as_ref(),
            None => &self.unknown_tenant,
        };
        if let Err(rejection) = verifier.verify(request, self.clock.now().as_datetime()) {
            tracing::warn!(
                tenant = %webhooks::parse::bounded(tenant),
                known = self.tenants.contains_key(&Tenant::new(tenant)),
                status = rejection.status,
                "Connec! notification rejected"
            );
            return Err(rejection.into());
        }
        let notifications = connec::notify::parse_connec_notification(request.body)?;
        self.within_limit(notifications.len())?;
        let organizations = match self.store.list_organizations().await {
            Ok(orgs) => orgs,
            Err(e) => {
                tracing::error!(tenant, error = %e, "cannot read organizations");
                return Err(ReceiveError::Unavailable(Unavailable::ReadOrganizations));
            }
        };
        let mut by_group: HashMap<&str, Vec<&Organization>> = HashMap::new();
        for org in organizations.iter().filter(|o| o.tenant.as_str() == tenant) {
            by_group.entry(org.group_id.as_str()).or_default().push(org);
        }
        let now = self.clock.now();
        let mut candidates: Vec<Candidate<Value>> = Vec::new();
        let mut ignored = 0usize;
        for notification in notifications {
            let entity = EntityName::new(notification.collection.clone());
            if !self
                .apps
                .iter()
                .any(|app| app.entities().iter().any(|p| p.hub == entity))
            {
                tracing::info!(tenant, collection = %notification.collection, "notification ignored: collection not synced");
                ignored += 1;
                continue;
            }
            let Some(orgs) = by_group.get(notification.group_id.as_str()) else {
                tracing::info!(tenant, group = %notification.group_id, "notification ignored: group not linked");
                ignored += 1;
                continue;
            };
            // Every app linked to the group that syncs the collection gets the record.
            let targets: Vec<&Organization> = orgs
                .iter()
                .copied()
                .filter(|org| self.apps.pair(&org.provider, &entity).is_some())
                .filter(|org| org.sync_enabled && org.flags(&entity).to_app)
                .collect();
            if targets.is_empty() {
                tracing::info!(tenant, group = %notification.group_id, entity = %entity, "notification ignored: sync or direction off");
                ignored += 1;
                continue;
            }
            for org in targets {
                candidates.push(Candidate {
                    org: org.id.clone(),
                    entity: entity.clone(),
                    item: notification.record.clone(),
                    key: connec_record_key(tenant, org, &notification),
                });
            }
        }
        let (batches, duplicates) = self
            .claim(candidates, now, false, Unavailable::AcceptNotifications)
            .await?;
        let accepted = self
            .queue_batches(
                batches,
                |org, entity, records| WorkItem::HubRecords {
                    org,
                    entity,
                    records,
                },
                Unavailable::AcceptNotifications,
            )
            .await?;
        Ok(Received {
            accepted,
            duplicates,
            ignored,
            acknowledgement: verifier.acknowledgement(),
        })
    }
}

/// The dedupe key of one Connec! record version for one organization: tenant, group,
/// collection, the app it goes to, and a SHA-256 digest (keyed, from the webhooks crate) of the
/// record as sent, in serde_json's canonical key order. (A redelivery straddling the upgrade from
/// the one-app key is applied twice, which the engine's content hashes make a no-op.)
fn connec_record_key(
    tenant: &str,
    org: &Organization,
    notification: &connec::notify::ConnecNotification,
) -> String {
    let bytes = serde_json::to_vec(&notification.record).unwrap_or_default();
    let digest = webhooks::body_hmac_signature("connec-record-version", &bytes);
    format!(
        "connec:{tenant}:{}:{}:{digest}:{}",
        notification.group_id, notification.collection, org.provider
    )
}
