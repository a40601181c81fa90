//! Managed policies: customer managed ones (CreatePolicy, versions, DeletePolicy) and the
//! AWS-managed ones we ship, their attachment to roles and users, and the lists over them
//! (ListPolicies, ListAttached*Policies, ListEntitiesForPolicy).
//!
//! Attachments live on the role or user; `AttachmentCount` and the entity lists are derived
//! from them on every read.

use std::collections::{BTreeMap, HashMap};

use tributary_model::AwsError;
use tributary_policy::{Policy, PolicyKind};
use tributary_store::{Catalog, Store};

use crate::directory;
use crate::error::{
    access_denied, already_exists, delete_conflict, invalid_arn, limit_exceeded, malformed_policy,
    policy_not_attachable, policy_not_found, version_not_found,
};
use crate::managed::{self, AwsPolicy};
use crate::model::{
    self, entity_id, load, load_all, parse_arn, policy_size, to_doc, Entity, GroupDoc, PolicyDoc,
    RoleDoc, UserDoc, VersionDoc, GROUP_KIND, POLICY_KIND, ROLE_KIND, USER_KIND,
};
use crate::render::{self, Detail, PolicyView};
use crate::roles::tags_in;
use crate::wire::{paginate, random_id, Page};
use crate::{types, Ctx};

/// Largest managed policy document (IAM's `PolicySize` quota, white space not counted).
const POLICY_SIZE_LIMIT: usize = 6144;
/// Versions a managed policy may have.
const VERSION_LIMIT: usize = 5;

/// A managed policy found by ARN.
pub(crate) enum Resolved {
    Aws(&'static AwsPolicy),
    Local(Box<PolicyDoc>),
}

impl Resolved {
    fn view(&self) -> PolicyView<'_> {
        match self {
            Resolved::Aws(a) => PolicyView::Aws(a),
            Resolved::Local(l) => PolicyView::Local(l),
        }
    }

    fn arn(&self) -> &str {
        match self {
            Resolved::Aws(a) => &a.arn,
            Resolved::Local(l) => &l.arn,
        }
    }
}

/// The managed policy `arn` names, as `account` sees it: an AWS-managed policy, or one of the
/// account's own. `Err` for a string that is no policy ARN at all.
pub(crate) fn resolve(
    catalog: &Catalog,
    account: &str,
    arn: &str,
) -> Result<Option<Resolved>, AwsError> {
    let parsed = match parse_arn(arn) {
        Some(p) if p.kind == "policy" => p,
        _ => return Err(invalid_arn(arn)),
    };
    if parsed.account == "aws" {
        return Ok(managed::by_arn(arn).map(Resolved::Aws));
    }
    if parsed.account != account {
        return Ok(None);
    }
    Ok(
        load::<PolicyDoc>(catalog, POLICY_KIND, &entity_id(account, parsed.name))
            .filter(|p| p.path == parsed.path)
            .map(|p| Resolved::Local(Box::new(p))),
    )
}

/// How many roles and users of `account` each policy ARN is attached to.
fn attachment_counts(catalog: &Catalog, account: &str) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    let roles = load_all::<RoleDoc>(catalog, ROLE_KIND, account);
    let users = load_all::<UserDoc>(catalog, USER_KIND, account);
    for arn in roles
        .iter()
        .flat_map(|r| r.attached.iter())
        .chain(users.iter().flat_map(|u| u.attached.iter()))
    {
        *counts.entry(arn.clone()).or_insert(0) += 1;
    }
    counts
}

/// AWS-managed policies belong to AWS: changing one is a cross-account request no policy of
/// AWS's allows.
fn aws_owned(ctx: &Ctx, store: &Store, action: &str, arn: &str) -> AwsError {
    let caller = directory::caller_arn(&store.catalog(), ctx.caller.as_ref(), &ctx.account);
    access_denied(format!(
        "User: {caller} is not authorized to perform: iam:{action} on resource: policy {arn} because no resource-based policy allows the iam:{action} action"
    ))
}

fn check_document(document: &str) -> Result<(), AwsError> {
    Policy::parse(document, PolicyKind::Identity).map_err(|e| malformed_policy(e.0))?;
    if policy_size(document) > POLICY_SIZE_LIMIT {
        return Err(limit_exceeded(format!(
            "Cannot exceed quota for PolicySize: {POLICY_SIZE_LIMIT}"
        )));
    }
    Ok(())
}

pub async fn create(
    store: &Store,
    ctx: &Ctx,
    input: types::CreatePolicyRequest,
) -> Result<types::CreatePolicyResponse, AwsError> {
    check_document(&input.policy_document)?;
    let path = input.path.as_deref().unwrap_or("/");
    let policy = PolicyDoc {
        account: ctx.account.clone(),
        arn: model::arn(&ctx.account, "policy", path, &input.policy_name),
        name: input.policy_name,
        path: path.to_owned(),
        policy_id: random_id("ANPA", 17),
        create_ms: ctx.now,
        description: input.description,
        default_version: "v1".to_owned(),
        next_version: 2,
        versions: vec![VersionDoc {
            id: "v1".to_owned(),
            document: input.policy_document,
            create_ms: ctx.now,
        }],
        tags: tags_in(input.tags)?,
    };
    let id = entity_id(&ctx.account, &policy.name);
    let policy = store
        .write(move |tx| {
            if tx.catalog().doc(POLICY_KIND, &id).is_some() {
                return Err(already_exists(format!(
                    "A policy called {} already exists. Duplicate names are not allowed.",
                    policy.name
                )));
            }
            tx.put_doc(POLICY_KIND, &id, to_doc(&policy)?)?;
            Ok(policy.clone())
        })
        .await?;
    Ok(types::CreatePolicyResponse {
        policy: Some(render::policy(
            &PolicyView::Local(&policy),
            0,
            Detail::Created,
        )),
    })
}

pub fn get(
    store: &Store,
    ctx: &Ctx,
    input: types::GetPolicyRequest,
) -> Result<types::GetPolicyResponse, AwsError> {
    let arn = input.policy_arn.as_str();
    let catalog = store.catalog();
    let policy = resolve(&catalog, &ctx.account, arn)?.ok_or_else(|| policy_not_found(arn))?;
    let count = attachment_counts(&catalog, &ctx.account)
        .get(policy.arn())
        .copied()
        .unwrap_or(0);
    Ok(types::GetPolicyResponse {
        policy: Some(render::policy(&policy.view(), count, Detail::Full)),
    })
}

pub fn list(
    store: &Store,
    ctx: &Ctx,
    input: types::ListPoliciesRequest,
) -> Result<types::ListPoliciesResponse, AwsError> {
    let catalog = store.catalog();
    let scope = input.scope.as_deref().unwrap_or("All");
    let only_attached = input.only_attached.unwrap_or(false);
    let prefix = input.path_prefix.as_deref().unwrap_or("/");
    // No policy is used as a permissions boundary here (boundaries are kept, not enforced).
    let boundaries_only = input.policy_usage_filter.as_deref() == Some("PermissionsBoundary");
    let counts = attachment_counts(&catalog, &ctx.account);
    let locals = load_all::<PolicyDoc>(&catalog, POLICY_KIND, &ctx.account);
    let mut views: Vec<PolicyView<'_>> = Vec::new();
    if scope != "Local" {
        views.extend(managed::all().iter().map(PolicyView::Aws));
    }
    if scope != "AWS" {
        views.extend(locals.iter().map(PolicyView::Local));
    }
    let count = |v: &PolicyView<'_>| counts.get(v.arn()).copied().unwrap_or(0);
    views.retain(|v| {
        v.path().starts_with(prefix) && (!only_attached || count(v) > 0) && !boundaries_only
    });
    let page = paginate(
        views,
        |v| format!("{}\u{0}{}", v.name().to_lowercase(), v.arn()),
        input.marker.as_deref(),
        input.max_items,
    )?;
    Ok(types::ListPoliciesResponse {
        policies: Some(
            page.items
                .iter()
                .map(|v| render::policy(v, count(v), Detail::Listed))
                .collect(),
        ),
        is_truncated: page.is_truncated(),
        marker: page.next_marker,
    })
}

pub async fn delete(
    store: &Store,
    ctx: &Ctx,
    input: types::DeletePolicyRequest,
) -> Result<(), AwsError> {
    let arn = input.policy_arn;
    if matches!(
        resolve(&store.catalog(), &ctx.account, &arn)?,
        Some(Resolved::Aws(_))
    ) {
        return Err(aws_owned(ctx, store, "DeletePolicy", &arn));
    }
    let account = ctx.account.clone();
    store
        .write(move |tx| {
            let policy = match resolve(tx.catalog(), &account, &arn)? {
                Some(Resolved::Local(p)) => p,
                _ => return Err(policy_not_found(&arn)),
            };
            if attachment_counts(tx.catalog(), &account)
                .get(&policy.arn)
                .is_some_and(|n| *n > 0)
            {
                return Err(delete_conflict("Cannot delete a policy attached to entities."));
            }
            if policy.versions.len() > 1 {
                return Err(delete_conflict(
                    "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.",
                ));
            }
            tx.delete_doc(POLICY_KIND, &entity_id(&account, &policy.name))
        })
        .await
}

pub fn get_version(
    store: &Store,
    ctx: &Ctx,
    input: types::GetPolicyVersionRequest,
) -> Result<types::GetPolicyVersionResponse, AwsError> {
    let arn = input.policy_arn.as_str();
    let version = input.version_id.as_str();
    let found =
        match resolve(&store.catalog(), &ctx.account, arn)?.ok_or_else(|| policy_not_found(arn))? {
            Resolved::Aws(a) if a.version == version => {
                render::version(&a.version, Some(a.document), true, a.update_ms)
            }
            Resolved::Aws(_) => return Err(version_not_found(arn, version)),
            Resolved::Local(p) => {
                let v = p
                    .versions
                    .iter()
                    .find(|v| v.id == version)
                    .ok_or_else(|| version_not_found(arn, version))?;
                render::local_version(&p, v, true)
            }
        };
    Ok(types::GetPolicyVersionResponse {
        policy_version: Some(found),
    })
}

/// The number of `v<n>`.
fn version_number(id: &str) -> u32 {
    id.strip_prefix('v')
        .and_then(|n| n.split('.').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

pub fn list_versions(
    store: &Store,
    ctx: &Ctx,
    input: types::ListPolicyVersionsRequest,
) -> Result<types::ListPolicyVersionsResponse, AwsError> {
    let arn = input.policy_arn.as_str();
    let policy =
        resolve(&store.catalog(), &ctx.account, arn)?.ok_or_else(|| policy_not_found(arn))?;
    // (id, default, created); newest first, as IAM lists them.
    let versions: Vec<(String, bool, i64)> = match &policy {
        Resolved::Aws(a) => vec![(a.version.clone(), true, a.update_ms)],
        Resolved::Local(p) => p
            .versions
            .iter()
            .map(|v| (v.id.clone(), v.id == p.default_version, v.create_ms))
            .collect(),
    };
    let page = paginate(
        versions,
        |(id, _, _)| format!("{:010}", u32::MAX - version_number(id)),
        input.marker.as_deref(),
        input.max_items,
    )?;
    Ok(types::ListPolicyVersionsResponse {
        versions: Some(
            page.items
                .iter()
                .map(|(id, default, created)| render::version(id, None, *default, *created))
                .collect(),
        ),
        is_truncated: page.is_truncated(),
        marker: page.next_marker,
    })
}

/// Runs `f` on a customer managed policy inside a write and stores it again; AWS-managed
/// policies are refused as AWS refuses them.
async fn modify_local<T, F>(
    store: &Store,
    ctx: &Ctx,
    action: &str,
    arn: &str,
    f: F,
) -> Result<T, AwsError>
where
    T: Send + 'static,
    F: Fn(&mut PolicyDoc) -> Result<T, AwsError> + Send + 'static,
{
    if matches!(
        resolve(&store.catalog(), &ctx.account, arn)?,
        Some(Resolved::Aws(_))
    ) {
        return Err(aws_owned(ctx, store, action, arn));
    }
    let account = ctx.account.clone();
    let arn = arn.to_owned();
    store
        .write(move |tx| {
            let mut policy = match resolve(tx.catalog(), &account, &arn)? {
                Some(Resolved::Local(p)) => p,
                _ => return Err(policy_not_found(&arn)),
            };
            let out = f(&mut policy)?;
            tx.put_doc(
                POLICY_KIND,
                &entity_id(&account, &policy.name),
                to_doc(&policy)?,
            )?;
            Ok(out)
        })
        .await
}

pub async fn create_version(
    store: &Store,
    ctx: &Ctx,
    input: types::CreatePolicyVersionRequest,
) -> Result<types::CreatePolicyVersionResponse, AwsError> {
    let arn = &input.policy_arn;
    let document = input.policy_document;
    let set_default = input.set_as_default.unwrap_or(false);
    check_document(&document)?;
    let now = ctx.now;
    let (policy, version) = modify_local(store, ctx, "CreatePolicyVersion", arn, move |p| {
        if p.versions.len() >= VERSION_LIMIT {
            return Err(limit_exceeded(
                "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.",
            ));
        }
        let v = VersionDoc {
            id: format!("v{}", p.next_version),
            document: document.clone(),
            create_ms: now,
        };
        p.next_version += 1;
        if set_default {
            p.default_version = v.id.clone();
        }
        p.versions.push(v.clone());
        Ok((p.clone(), v))
    })
    .await?;
    Ok(types::CreatePolicyVersionResponse {
        policy_version: Some(render::local_version(&policy, &version, false)),
    })
}

pub async fn set_default_version(
    store: &Store,
    ctx: &Ctx,
    input: types::SetDefaultPolicyVersionRequest,
) -> Result<(), AwsError> {
    let arn = &input.policy_arn;
    let version = input.version_id;
    let arn_owned = arn.clone();
    modify_local(store, ctx, "SetDefaultPolicyVersion", arn, move |p| {
        if !p.versions.iter().any(|v| v.id == version) {
            return Err(version_not_found(&arn_owned, &version));
        }
        p.default_version = version.clone();
        Ok(())
    })
    .await
}

pub async fn delete_version(
    store: &Store,
    ctx: &Ctx,
    input: types::DeletePolicyVersionRequest,
) -> Result<(), AwsError> {
    let arn = &input.policy_arn;
    let version = input.version_id;
    let arn_owned = arn.clone();
    modify_local(store, ctx, "DeletePolicyVersion", arn, move |p| {
        if !p.versions.iter().any(|v| v.id == version) {
            return Err(version_not_found(&arn_owned, &version));
        }
        if p.default_version == version {
            return Err(delete_conflict(
                "Cannot delete the default version of a policy.",
            ));
        }
        p.versions.retain(|v| v.id != version);
        Ok(())
    })
    .await
}

/// Attach Role/User/Group Policy: `name` is the entity's.
pub async fn attach<E: Entity>(
    store: &Store,
    ctx: &Ctx,
    name: &str,
    arn: String,
) -> Result<(), AwsError> {
    let account = ctx.account.clone();
    model::modify(store, &ctx.account, name, move |e: &mut E, catalog| {
        let policy =
            resolve(catalog, &account, &arn)?.ok_or_else(|| policy_not_attachable(&arn))?;
        let canonical = policy.arn().to_owned();
        if e.attached().contains(&canonical) {
            return Ok(());
        }
        let (limit, quota) = E::ATTACHED_LIMIT;
        if e.attached().len() >= limit {
            return Err(limit_exceeded(format!(
                "Cannot exceed quota for {quota}: {limit}"
            )));
        }
        e.attached_mut().push(canonical);
        Ok(())
    })
    .await
}

/// Detach Role/User/Group Policy: `name` is the entity's.
pub async fn detach<E: Entity>(
    store: &Store,
    ctx: &Ctx,
    name: &str,
    arn: String,
) -> Result<(), AwsError> {
    if parse_arn(&arn).is_none_or(|p| p.kind != "policy") {
        return Err(invalid_arn(&arn));
    }
    model::modify(store, &ctx.account, name, move |e: &mut E, _| {
        let before = e.attached().len();
        e.attached_mut().retain(|a| *a != arn);
        if e.attached().len() == before {
            return Err(policy_not_found(&arn));
        }
        Ok(())
    })
    .await
}

/// A page of the managed policies attached to the entity `name`, in the order they were
/// attached (List Attached Role/User/Group Policies).
pub fn list_attached<E: Entity>(
    store: &Store,
    ctx: &Ctx,
    name: &str,
    path_prefix: Option<&str>,
    marker: Option<&str>,
    max_items: Option<i32>,
) -> Result<Page<types::AttachedPolicy>, AwsError> {
    let e: E = load(&store.catalog(), E::KIND, &entity_id(&ctx.account, name))
        .ok_or_else(|| E::not_found(name))?;
    let prefix = path_prefix.unwrap_or("/");
    // (attach order, name, arn)
    let attached: Vec<(usize, String, String)> = e
        .attached()
        .iter()
        .enumerate()
        .filter_map(|(i, arn)| {
            let p = parse_arn(arn)?;
            p.path
                .starts_with(prefix)
                .then(|| (i, p.name.to_owned(), arn.clone()))
        })
        .collect();
    let page = paginate(attached, |(i, _, _)| format!("{i:010}"), marker, max_items)?;
    Ok(Page {
        items: page
            .items
            .into_iter()
            .map(|(_, policy_name, arn)| types::AttachedPolicy {
                policy_name: Some(policy_name),
                policy_arn: Some(arn),
            })
            .collect(),
        next_marker: page.next_marker,
    })
}

pub fn list_entities(
    store: &Store,
    ctx: &Ctx,
    input: types::ListEntitiesForPolicyRequest,
) -> Result<types::ListEntitiesForPolicyResponse, AwsError> {
    let arn = input.policy_arn.as_str();
    let catalog = store.catalog();
    let policy = resolve(&catalog, &ctx.account, arn)?.ok_or_else(|| policy_not_found(arn))?;
    let canonical = policy.arn();
    let filter = input.entity_filter.as_deref();
    let prefix = input.path_prefix.as_deref().unwrap_or("/");
    // ("role"/"user", name, id), keyed for paging by kind and name.
    let mut entities: BTreeMap<String, (&'static str, String, String)> = BTreeMap::new();
    if filter.is_none_or(|f| f != "User" && f != "Group") {
        for r in load_all::<RoleDoc>(&catalog, ROLE_KIND, &ctx.account) {
            if r.path.starts_with(prefix) && r.attached.iter().any(|a| a == canonical) {
                entities.insert(
                    format!("role\u{0}{}", r.name.to_lowercase()),
                    ("role", r.name, r.role_id),
                );
            }
        }
    }
    if filter.is_none_or(|f| f != "Role" && f != "Group") {
        for u in load_all::<UserDoc>(&catalog, USER_KIND, &ctx.account) {
            if u.path.starts_with(prefix) && u.attached.iter().any(|a| a == canonical) {
                entities.insert(
                    format!("user\u{0}{}", u.name.to_lowercase()),
                    ("user", u.name, u.user_id),
                );
            }
        }
    }
    if filter.is_none_or(|f| f != "Role" && f != "User") {
        for g in load_all::<GroupDoc>(&catalog, GROUP_KIND, &ctx.account) {
            if g.path.starts_with(prefix) && g.attached.iter().any(|a| a == canonical) {
                entities.insert(
                    format!("group\u{0}{}", g.name.to_lowercase()),
                    ("group", g.name, g.group_id),
                );
            }
        }
    }
    let page = paginate(
        entities.into_iter().collect::<Vec<_>>(),
        |(k, _)| k.clone(),
        input.marker.as_deref(),
        input.max_items,
    )?;
    let is_truncated = page.is_truncated();
    let (mut groups, mut users, mut roles) = (Vec::new(), Vec::new(), Vec::new());
    for (_, (kind, name, id)) in page.items {
        match kind {
            "group" => groups.push(types::PolicyGroup {
                group_name: Some(name),
                group_id: Some(id),
            }),
            "user" => users.push(types::PolicyUser {
                user_name: Some(name),
                user_id: Some(id),
            }),
            _ => roles.push(types::PolicyRole {
                role_name: Some(name),
                role_id: Some(id),
            }),
        }
    }
    Ok(types::ListEntitiesForPolicyResponse {
        policy_groups: Some(groups),
        policy_users: Some(users),
        policy_roles: Some(roles),
        is_truncated,
        marker: page.next_marker,
    })
}

/// The default documents of the managed policies attached to an entity, for the directory.
pub(crate) fn attached_documents(
    catalog: &Catalog,
    account: &str,
    attached: &[String],
) -> Vec<String> {
    attached
        .iter()
        .filter_map(|arn| match resolve(catalog, account, arn).ok().flatten()? {
            Resolved::Aws(a) => Some(a.document.to_owned()),
            Resolved::Local(p) => p.default_document().map(str::to_owned),
        })
        .collect()
}
