//! What follows an authorization: [`complete_link`] creates or updates the organization and
//! stores the tokens (one app account to one organization, one organization per app per
//! group); [`unlink`]; and [`link_with_api_key`] for apps that use API keys.

use sync_core::domain::{GroupId, OrgId, Organization, Provider, Realm, Tenant, Timestamp};
use sync_core::ports::SyncStore;

use crate::error::LinkError;
use crate::oauth::Authorized;
use crate::ports::{AccountKey, CredentialStore, TokenSet};
use crate::secret::SecretString;

/// Attaches an authorized account to its organization and stores its tokens.
///
/// - Refuses with [`LinkError::AccountAlreadyLinked`] when another group's organization holds
///   the same provider and account and is still linked (sync enabled, or the account's
///   credentials are stored and are not this group's); an organization that was [`unlink`]ed
///   does not block.
/// - Refuses with [`LinkError::GroupLinkedToAnotherAccount`] when this group's organization is
///   linked to another account or app (its id-maps belong to that account).
/// - Creates the organization (id = group id, realm = account, sync on, historical data off:
///   `history_from = now`, no entity flags) or, on a re-link of the same account, keeps its
///   settings, takes the new name and tenant and re-enables sync.
/// - Saves the tokens unconditionally (`expected_version = None`), before the organization, so
///   that an enabled organization always has credentials.
///
/// The caller then registers webhooks and requests the first sync.
///
/// # Errors
///
/// The two refusals above and [`LinkError::Store`].
pub async fn complete_link(
    store: &dyn SyncStore,
    credentials: &dyn CredentialStore,
    authorized: Authorized,
    account: String,
    name: &str,
    now: Timestamp,
) -> Result<Organization, LinkError> {
    let Authorized {
        provider,
        tenant,
        group_id,
        tokens,
    } = authorized;
    let key = AccountKey::new(provider.clone(), account.clone());
    let organizations = store.list_organizations().await?;
    let same_account =
        |org: &&Organization| org.provider == provider && org.realm.as_str() == account;
    // A group links one account of each app: its organization for this app is ours.
    let ours = |org: &&Organization| {
        org.provider == provider
            && (org.group_id == group_id || org.id.as_str() == group_id.as_str())
    };
    // Stored credentials are keyed by account: they belong to this group's organization when it
    // has one for this account, else to the other organization holding the account.
    let credentials_are_theirs = credentials.load(&key).await?.is_some()
        && !organizations
            .iter()
            .any(|org| ours(&org) && same_account(&org));
    if let Some(other) = organizations
        .iter()
        .find(|org| !ours(org) && same_account(org) && (org.sync_enabled || credentials_are_theirs))
    {
        tracing::info!(account = %key, group = %group_id, other = %other.group_id, "link refused: account already linked");
        return Err(LinkError::AccountAlreadyLinked {
            provider,
            account,
            group: other.group_id.clone(),
        });
    }
    let existing = organizations.iter().find(ours);
    if let Some(existing) = existing
        && (existing.provider != provider || existing.realm.as_str() != account)
    {
        tracing::info!(account = %key, group = %group_id, "link refused: group linked to another account");
        return Err(LinkError::GroupLinkedToAnotherAccount {
            group: group_id,
            provider: existing.provider.clone(),
            linked: existing.realm.to_string(),
            account,
        });
    }
    let organization = match existing {
        Some(existing) => Organization {
            tenant,
            name: name.to_owned(),
            sync_enabled: true,
            ..existing.clone()
        },
        None => Organization {
            id: new_org_id(&organizations, &group_id, &provider),
            tenant,
            group_id,
            provider,
            realm: Realm::new(account),
            name: name.to_owned(),
            sync_enabled: true,
            entity_flags: Default::default(),
            history_from: Some(now),
            linked_at: now,
        },
    };
    credentials.save(&key, &tokens, None).await?;
    if let Err(error) = store.put_organization(&organization).await {
        // A concurrent callback got there first (the store enforces both rules atomically):
        // say which rule, as if it had been seen above.
        if let sync_core::error::StoreError::Conflict(_) = &error
            && let Some(other) = store.list_organizations().await?.iter().find(|o| {
                o.id != organization.id
                    && o.sync_enabled
                    && o.provider == organization.provider
                    && o.realm == organization.realm
            })
        {
            tracing::info!(account = %key, group = %organization.group_id, other = %other.group_id, "link refused: account linked by a concurrent callback");
            return Err(LinkError::AccountAlreadyLinked {
                provider: organization.provider.clone(),
                account: organization.realm.to_string(),
                group: other.group_id.clone(),
            });
        }
        return Err(error.into());
    }
    tracing::info!(
        account = %key,
        org = %organization.id,
        relink = existing.is_some(),
        "account linked"
    );
    Ok(organization)
}

/// The id of a new organization: the group id for the group's first app (as before several
/// apps could be linked, so one-app deployments keep their ids), `{group}:{provider}` after.
pub fn new_org_id(organizations: &[Organization], group: &GroupId, provider: &Provider) -> OrgId {
    if organizations
        .iter()
        .any(|o| o.id.as_str() == group.as_str())
    {
        OrgId::new(format!("{group}:{provider}"))
    } else {
        OrgId::new(group.as_str())
    }
}

/// What [`unlink`] does with what was synced so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnlinkMode {
    /// Keep the id-maps, watermarks and pending records: linking the same account again resumes
    /// where it stopped, with no duplicate.
    #[default]
    KeepSyncState,
    /// Forget them too ([`SyncStore::purge_sync_state`]): a later link starts over with a first
    /// sync that matches and merges records again.
    PurgeSyncState,
}

/// Removes a link: deletes the tokens and switches sync off. The organization and its settings
/// stay; its id-maps stay too unless `mode` asks to purge them. Returns the number of id-maps
/// purged (0 when kept).
///
/// # Errors
///
/// [`LinkError::UnknownOrganization`], [`LinkError::Store`].
pub async fn unlink(
    store: &dyn SyncStore,
    credentials: &dyn CredentialStore,
    org_id: &OrgId,
    mode: UnlinkMode,
) -> Result<u64, LinkError> {
    let Some(mut organization) = store.get_organization(org_id).await? else {
        return Err(LinkError::UnknownOrganization(org_id.clone()));
    };
    let key = AccountKey::new(organization.provider.clone(), organization.realm.as_str());
    credentials.delete(&key).await?;
    // Sync goes off before any purge, so that no scheduled run starts on half-deleted state.
    organization.sync_enabled = false;
    store.put_organization(&organization).await?;
    let purged = match mode {
        UnlinkMode::KeepSyncState => 0,
        UnlinkMode::PurgeSyncState => store.purge_sync_state(org_id).await?,
    };
    tracing::info!(account = %key, org = %org_id, purged_idmaps = purged, "account unlinked");
    Ok(purged)
}

/// Links an account of an API-key app: the key is stored as the access token (no refresh token,
/// no expiry), through the same checks as [`complete_link`].
///
/// # Errors
///
/// As [`complete_link`].
#[allow(clippy::too_many_arguments)]
pub async fn link_with_api_key(
    store: &dyn SyncStore,
    credentials: &dyn CredentialStore,
    provider: Provider,
    account: String,
    tenant: Tenant,
    group_id: GroupId,
    api_key: SecretString,
    name: &str,
    now: Timestamp,
) -> Result<Organization, LinkError> {
    let authorized = Authorized {
        provider,
        tenant,
        group_id,
        tokens: TokenSet::api_key(api_key),
    };
    complete_link(store, credentials, authorized, account, name, now).await
}
