//! The connector's page, as use cases: what one Connec! group sees of every app served here, and
//! what it may change (directions, historical data, sync now, retry, unlink).
//!
//! Every method takes the group it acts for: the HTTP edge has already checked that the caller
//! may act for it (a session for that group, or the tenant's API credentials), and nothing here
//! reaches another group's organizations.

use connector_sdk::{AppProvider, UnlinkContext};
use linking::{AccountKey, LinkStatus, UnlinkMode};
use sync_core::domain::{
    DirectionFlags, EntityName, GroupId, Organization, Side, Tenant, Timestamp, Watermark,
};
use sync_core::error::{StoreError, SyncError};
use sync_core::ports::WorkItem;

use crate::ConnectorService;

mod view;

pub use view::{
    AppView, CountsView, EntityView, FailureView, GroupView, IdMapView, LinkState, Retried,
    RunView, Unlinked,
};

/// Runs shown in a history.
pub const HISTORY_LIMIT: usize = 20;
/// Failed or parked records listed at most.
pub const FAILURES_LIMIT: usize = 200;
/// Search results at most.
pub const SEARCH_LIMIT: usize = 50;

/// Why a page action did not happen. `Display` says what to do; no secret, no record content.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The app is not served here.
    #[error("no app `{0}` is served here")]
    UnknownApp(String),
    /// The group has no organization for this app.
    #[error("this group is not linked to {0}")]
    NotLinked(String),
    /// The app has no such entity pair.
    #[error("{app} has no entity `{entity}`")]
    UnknownEntity {
        /// The app's name.
        app: String,
        /// The entity asked for.
        entity: String,
    },
    /// The store failed; try again.
    #[error("the connector's store is unavailable ({0}); try again")]
    Store(#[from] StoreError),
    /// The sync could not be queued; try again.
    #[error("the sync could not be queued ({0}); try again")]
    NotQueued(String),
    /// The retry could not run.
    #[error("the retry did not run: {0}")]
    Retry(SyncError),
    /// The unlink failed.
    #[error("the unlink did not complete: {0}")]
    Unlink(linking::LinkError),
}

impl ConnectorService {
    fn tenant(&self) -> Tenant {
        Tenant::new(self.settings.tenant.clone())
    }

    fn app_named(&self, app: &str) -> Result<&std::sync::Arc<dyn AppProvider>, ConsoleError> {
        self.apps
            .get(app)
            .ok_or_else(|| ConsoleError::UnknownApp(app.to_owned()))
    }

    /// The group's organization for `app`, if any.
    async fn organization_of(
        &self,
        group: &GroupId,
        app: &dyn AppProvider,
    ) -> Result<Option<Organization>, ConsoleError> {
        let tenant = self.tenant();
        Ok(self
            .ports
            .store
            .list_organizations()
            .await?
            .into_iter()
            .find(|o| o.tenant == tenant && &o.group_id == group && o.provider == *app.id()))
    }

    async fn linked_organization(
        &self,
        group: &GroupId,
        app: &str,
    ) -> Result<(std::sync::Arc<dyn AppProvider>, Organization), ConsoleError> {
        let app = self.app_named(app)?.clone();
        match self.organization_of(group, app.as_ref()).await? {
            Some(org) => Ok((app, org)),
            None => Err(ConsoleError::NotLinked(app.display_name().to_owned())),
        }
    }

    /// Everything the page shows for `group`.
    pub async fn group_view(&self, group: &GroupId) -> Result<GroupView, ConsoleError> {
        let tenant = self.tenant();
        let orgs: Vec<Organization> = self
            .ports
            .store
            .list_organizations()
            .await?
            .into_iter()
            .filter(|o| o.tenant == tenant && &o.group_id == group)
            .collect();
        let mut apps = Vec::new();
        for app in self.apps.iter() {
            let org = orgs.iter().find(|o| &o.provider == app.id());
            apps.push(self.app_view(app.as_ref(), org).await?);
        }
        Ok(GroupView {
            group_id: group.to_string(),
            apps,
        })
    }

    async fn app_view(
        &self,
        app: &dyn AppProvider,
        org: Option<&Organization>,
    ) -> Result<AppView, ConsoleError> {
        let link = match org {
            None => LinkState::NotLinked,
            Some(org) => self.link_state(app, org).await?,
        };
        let entities = app
            .entities()
            .iter()
            .map(|pair| {
                let flags = org.map(|o| o.flags(&pair.hub)).unwrap_or_default();
                let c = pair.capabilities;
                EntityView {
                    entity: pair.hub.clone(),
                    app_entity: pair.app.to_string(),
                    to_hub: flags.to_hub,
                    to_app: flags.to_app,
                    can_to_hub: c.app_read && (c.hub_create || c.hub_update),
                    can_to_app: c.hub_read && (c.app_create || c.app_update || c.app_archive),
                }
            })
            .collect();
        let last_run = match org {
            Some(org) => self
                .ports
                .store
                .recent_runs(&org.id, 1)
                .await?
                .first()
                .map(RunView::from),
            None => None,
        };
        Ok(AppView {
            id: app.id().clone(),
            name: app.display_name().to_owned(),
            oauth: app.oauth().is_some(),
            link,
            entities,
            historical_data: org.is_some_and(|o| o.history_from.is_none()),
            last_run,
        })
    }

    async fn link_state(
        &self,
        app: &dyn AppProvider,
        org: &Organization,
    ) -> Result<LinkState, ConsoleError> {
        // The organization's name is the group's; the account is the app's realm.
        let account = org.realm.to_string();
        let org_id = org.id.clone();
        if !org.sync_enabled {
            return Ok(LinkState::Unlinked {
                org: org_id,
                account,
            });
        }
        if app.oauth().is_some() {
            let key = AccountKey::new(org.provider.clone(), org.realm.to_string());
            let stored = self
                .ports
                .credentials
                .load(&key)
                .await
                .map_err(|e| StoreError::Backend(e.to_string()))?;
            match stored.map(|s| s.status) {
                Some(LinkStatus::Active) => {}
                Some(LinkStatus::NeedsReauthorization { reason }) => {
                    return Ok(LinkState::NeedsReauthorization {
                        org: org_id,
                        account,
                        reason,
                    });
                }
                None => {
                    return Ok(LinkState::NeedsReauthorization {
                        org: org_id,
                        account,
                        reason: "no credentials are stored for this account".to_owned(),
                    });
                }
            }
        }
        Ok(LinkState::Linked {
            org: org_id,
            account,
        })
    }

    /// Switches the directions of one entity pair.
    pub async fn set_directions(
        &self,
        group: &GroupId,
        app: &str,
        entity: &str,
        flags: DirectionFlags,
    ) -> Result<EntityView, ConsoleError> {
        let (app, mut org) = self.linked_organization(group, app).await?;
        let pair = app
            .entities()
            .iter()
            .find(|p| p.hub.as_str() == entity)
            .ok_or_else(|| ConsoleError::UnknownEntity {
                app: app.display_name().to_owned(),
                entity: entity.chars().take(64).collect(),
            })?;
        org.entity_flags.insert(pair.hub.clone(), flags);
        self.ports.store.put_organization(&org).await?;
        tracing::info!(org = %org.id, entity = %pair.hub, to_hub = flags.to_hub, to_app = flags.to_app, "entity directions changed");
        let view = self.app_view(app.as_ref(), Some(&org)).await?;
        Ok(view
            .entities
            .into_iter()
            .find(|e| e.entity == pair.hub)
            .expect("the pair is one of the app's"))
    }

    /// Turns historical data on (records that existed before the link travel too: the
    /// watermarks are reset, so the next sync, queued now, reads everything) or off (only
    /// records created after the link, the default).
    pub async fn set_historical_data(
        &self,
        group: &GroupId,
        app: &str,
        on: bool,
    ) -> Result<bool, ConsoleError> {
        let (app, mut org) = self.linked_organization(group, app).await?;
        org.history_from = if on { None } else { Some(org.linked_at) };
        self.ports.store.put_organization(&org).await?;
        if on {
            let epoch = Watermark(Timestamp::from_datetime(chrono_epoch()));
            for pair in app.entities() {
                for side in [Side::Hub, Side::App] {
                    self.ports
                        .store
                        .set_watermark(&org.id, &pair.hub, side, epoch)
                        .await?;
                }
            }
            // A complex entity's app side is read under the group's own watermark.
            for group in app.groups() {
                self.ports
                    .store
                    .set_watermark(&org.id, &group.key(), Side::App, epoch)
                    .await?;
            }
            self.queue_sync(&org).await?;
        }
        tracing::warn!(org = %org.id, historical_data = on, "historical data switched; records that exist on both sides and cannot be matched may be duplicated");
        Ok(on)
    }

    /// Queues a sync of the group's organization for `app` now.
    pub async fn sync_now(&self, group: &GroupId, app: &str) -> Result<(), ConsoleError> {
        let (_, org) = self.linked_organization(group, app).await?;
        self.queue_sync(&org).await
    }

    async fn queue_sync(&self, org: &Organization) -> Result<(), ConsoleError> {
        self.ports
            .bus
            .publish(WorkItem::Sync {
                org: org.id.clone(),
            })
            .await
            .map_err(|e| ConsoleError::NotQueued(e.to_string()))?;
        tracing::info!(org = %org.id, "sync requested from the connector's page");
        Ok(())
    }

    /// The newest runs, newest first.
    pub async fn runs(&self, group: &GroupId, app: &str) -> Result<Vec<RunView>, ConsoleError> {
        let (_, org) = self.linked_organization(group, app).await?;
        Ok(self
            .ports
            .store
            .recent_runs(&org.id, HISTORY_LIMIT)
            .await?
            .iter()
            .map(RunView::from)
            .collect())
    }

    /// Records whose write failed, then records parked (waiting for a reference).
    pub async fn failures(
        &self,
        group: &GroupId,
        app: &str,
    ) -> Result<Vec<FailureView>, ConsoleError> {
        let (app, org) = self.linked_organization(group, app).await?;
        let store = &self.ports.store;
        let mut found: Vec<FailureView> = store
            .failed_idmaps(&org.id, FAILURES_LIMIT)
            .await?
            .iter()
            .filter_map(FailureView::failed)
            .collect();
        for pair in app.entities() {
            for side in [Side::Hub, Side::App] {
                let parked = store.pending(&org.id, &pair.hub, side).await?;
                // A failed write is also parked for the next run: list it once, as failed.
                let listed = |p: &sync_core::domain::PendingRecord| {
                    found.iter().any(|f| {
                        f.entity == p.entity && f.source == p.source && f.id == p.source_id
                    })
                };
                let fresh: Vec<FailureView> = parked
                    .iter()
                    .filter(|p| !listed(p))
                    .map(FailureView::parked)
                    .collect();
                found.extend(fresh);
            }
        }
        found.truncate(FAILURES_LIMIT);
        Ok(found)
    }

    /// Retries one record now: read again from `source` and applied to the other side. A
    /// record known on both sides whose write still fails is also retried from the app side.
    pub async fn retry(
        &self,
        group: &GroupId,
        app: &str,
        entity: &str,
        source: Side,
        id: &str,
    ) -> Result<Retried, ConsoleError> {
        let (app, org) = self.linked_organization(group, app).await?;
        let entity = app
            .entities()
            .iter()
            .map(|p| p.hub.clone())
            .find(|e| e.as_str() == entity)
            .ok_or_else(|| ConsoleError::UnknownEntity {
                app: app.display_name().to_owned(),
                entity: entity.chars().take(64).collect(),
            })?;
        let engine = self
            .engine_for(&org)
            .map_err(|e| ConsoleError::Retry(SyncError::Apply(e.to_string())))?;
        let mut counts = engine
            .retry_record(&org.id, &entity, source, id)
            .await
            .map_err(ConsoleError::Retry)?;
        let mut map = self.idmap_of(&org, &entity, source, id).await?;
        if let (Some(failed), Side::Hub) = (&map, source)
            && failed.last_error.is_some()
            && let Some(app_id) = failed.app_id.clone()
        {
            let more = engine
                .retry_record(&org.id, &entity, Side::App, app_id.as_str())
                .await
                .map_err(ConsoleError::Retry)?;
            counts.add(&more);
            map = self.idmap_of(&org, &entity, source, id).await?;
        }
        let still_parked = self
            .ports
            .store
            .pending(&org.id, &entity, source)
            .await?
            .into_iter()
            .find(|p| p.source_id == id)
            .map(|p| p.error);
        tracing::info!(org = %org.id, entity = %entity, written = counts.written(), "record retried from the connector's page");
        Ok(Retried {
            counts,
            still_failing: map.and_then(|m| m.last_error).or(still_parked),
        })
    }

    async fn idmap_of(
        &self,
        org: &Organization,
        entity: &EntityName,
        side: Side,
        id: &str,
    ) -> Result<Option<sync_core::domain::IdMap>, ConsoleError> {
        let store = &self.ports.store;
        let found = match side {
            Side::Hub => {
                store
                    .idmaps_by_hub_ids(&org.id, entity, &[sync_core::domain::HubId::new(id)])
                    .await?
            }
            Side::App => {
                store
                    .idmaps_by_app_ids(&org.id, entity, &[sync_core::domain::AppId::new(id)])
                    .await?
            }
        };
        Ok(found.into_iter().next())
    }

    /// Id-maps whose hub id or app id is `query`, or whose name contains it.
    pub async fn search(
        &self,
        group: &GroupId,
        app: &str,
        query: &str,
    ) -> Result<Vec<IdMapView>, ConsoleError> {
        let (_, org) = self.linked_organization(group, app).await?;
        let query: String = query.chars().take(200).collect();
        Ok(self
            .ports
            .store
            .search_idmaps(&org.id, &query, SEARCH_LIMIT)
            .await?
            .iter()
            .map(IdMapView::from)
            .collect())
    }

    /// Unlinks the group from `app`: the app's access is revoked where it can be (its
    /// after-unlink step), the tokens are deleted, sync goes off, and with `purge` the id-maps,
    /// watermarks and parked records go too.
    pub async fn unlink(
        &self,
        group: &GroupId,
        app: &str,
        purge: bool,
    ) -> Result<Unlinked, ConsoleError> {
        let (app, org) = self.linked_organization(group, app).await?;
        let mode = if purge {
            UnlinkMode::PurgeSyncState
        } else {
            UnlinkMode::KeepSyncState
        };
        let revoked = self.unlink_organization(app.as_ref(), &org, mode).await?;
        Ok(Unlinked {
            org: org.id.clone(),
            purged_idmaps: revoked.0,
            revoked: revoked.1,
        })
    }

    /// Unlinks one organization (the page's and the CLI's unlink): the tokens are read first
    /// for the app's after-unlink step (revocation), then deleted. Returns the id-maps purged
    /// and whether the app confirmed the revocation.
    pub async fn unlink_organization(
        &self,
        app: &dyn AppProvider,
        org: &Organization,
        mode: UnlinkMode,
    ) -> Result<(u64, bool), ConsoleError> {
        let key = AccountKey::new(org.provider.clone(), org.realm.to_string());
        let stored = self
            .ports
            .credentials
            .load(&key)
            .await
            .map_err(|e| ConsoleError::Store(StoreError::Backend(e.to_string())))?;
        let purged = linking::unlink(
            self.ports.store.as_ref(),
            self.ports.credentials.as_ref(),
            &org.id,
            mode,
        )
        .await
        .map_err(ConsoleError::Unlink)?;
        let mut revoked = false;
        if let Some(stored) = stored {
            let context = UnlinkContext {
                realm: &org.realm,
                access_token: Some(stored.tokens.access_token.expose()),
                refresh_token: stored.tokens.refresh_token.as_ref().map(|t| t.expose()),
            };
            match app.after_unlink(&context).await {
                Ok(()) => revoked = true,
                Err(e) => {
                    tracing::warn!(org = %org.id, error = %e, "the app did not confirm the revocation")
                }
            }
        }
        Ok((purged, revoked))
    }
}

/// The Unix epoch, where a reset watermark points (everything is newer).
fn chrono_epoch() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(0).unwrap_or_default()
}
