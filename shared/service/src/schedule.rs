//! The hourly schedule: one sync request per linked organization of every app.

use linking::AccountKey;
use sync_core::domain::{OrgId, Organization};
use sync_core::ports::WorkItem;

use crate::{ConnectorService, FAN_OUT_PAGE};

impl ConnectorService {
    /// Queues a sync of every enabled organization whose link is healthy, paging through the
    /// organizations. Returns how many were queued.
    pub async fn fan_out(&self) -> Result<usize, sync_core::error::StoreError> {
        let mut after: Option<OrgId> = None;
        let mut queued = 0;
        loop {
            let page = self
                .ports
                .store
                .list_organizations_page(after.as_ref(), FAN_OUT_PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id.clone());
            let mut items = Vec::new();
            for org in page.into_iter().filter(|o| o.sync_enabled) {
                if self.needs_reauth(&org).await {
                    tracing::warn!(org = %org.id, "scheduled sync skipped: the link needs re-authorisation");
                    continue;
                }
                items.push(WorkItem::Sync { org: org.id });
            }
            queued += items.len();
            if let Err(e) = self.ports.bus.publish_all(items).await {
                tracing::error!(error = %e, "fan-out could not queue every sync");
            }
        }
        tracing::info!(queued, "scheduled syncs requested");
        Ok(queued)
    }

    async fn needs_reauth(&self, org: &Organization) -> bool {
        let key = AccountKey::new(org.provider.clone(), org.realm.to_string());
        matches!(
            self.ports.credentials.load(&key).await,
            Ok(Some(stored)) if matches!(stored.status, linking::ports::LinkStatus::NeedsReauthorization { .. })
        )
    }
}
