//! AWS Identity and Access Management on the shared endpoint (query protocol, XML answers):
//! roles and their trust policies, users and access keys, inline policies, customer managed
//! policies with versions, AWS-managed policies with AWS's published documents, attachments,
//! tags and instance profiles.
//!
//! IAM is global: one set of entities per account, whatever the region. The account is the
//! caller's ([`tributary_service::Caller::account_id`]), or the configured default for an
//! unsigned request. Every entity lives in the store, so it survives a restart; every time
//! (`CreateDate`) comes from the server clock.
//!
//! The rest of the server (the gateway's signature check, STS, Lambda's role checks) reads
//! identities through [`Directory`], a cheap synchronous view of the last committed state.
//!
//! Each request is read as the model's input shape and validated by the generated validator
//! before a handler runs ([`wire::input`]), so constraint violations get AWS's
//! `ValidationError` texts; the handler takes the operation's generated input struct
//! ([`types`], read by [`wire::typed`]), checks what the model cannot (existence, quotas,
//! policy grammar through `tributary_policy`) and returns the generated output struct, which
//! becomes the `<ActionResult>` element ([`wire::result`]).

/// The typed request and response surface, generated from the model by `tributary-codegen`.
#[rustfmt::skip]
pub mod types;

use std::sync::Arc;

use serde_json::{Map, Value};
use tributary_model::{AwsError, Clock};
use tributary_service::query::{self, Params};
use tributary_service::{Caller, Request, Response, Service};
use tributary_shapes::generated::iam as shapes;
use tributary_shapes::xml::ToXml;
use tributary_store::Store;

mod authorizer;
mod directory;
mod error;
mod groups;
mod inline;
pub mod managed;
mod model;
mod policies;
mod profiles;
mod render;
mod roles;
mod users;
pub mod wire;

use wire::typed;

pub use directory::{AccessKeyInfo, Directory, KeyStatus, RoleInfo, UserInfo};

/// IAM's XML namespace.
pub const NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

/// The account of requests that carry no credentials (`--auth none`).
pub const DEFAULT_ACCOUNT: &str = "000000000000";

/// How IAM is set up.
#[derive(Debug, Clone)]
pub struct IamConfig {
    /// The account of unsigned requests.
    pub default_account: String,
}

impl Default for IamConfig {
    fn default() -> Self {
        IamConfig {
            default_account: DEFAULT_ACCOUNT.to_owned(),
        }
    }
}

/// The IAM service.
pub struct Iam {
    store: Store,
    clock: Arc<dyn Clock>,
    cfg: IamConfig,
}

/// What a handler knows about the request beyond its input.
pub(crate) struct Ctx {
    /// The account the request acts in.
    pub account: String,
    pub caller: Option<Caller>,
    /// The server clock when the request arrived.
    pub now: i64,
}

/// An operation's answer: the inner XML of its `<ActionResult>`, `None` for actions without
/// output.
pub(crate) type Reply = Result<Option<String>, AwsError>;

impl Iam {
    /// IAM over `store`, reading time from `clock` (the server clock tests move by hand).
    pub fn new(store: Store, clock: Arc<dyn Clock>, cfg: IamConfig) -> Iam {
        Iam { store, clock, cfg }
    }

    /// The lookup handle for the rest of the server.
    pub fn directory(&self) -> Directory {
        Directory::new(self.store.clone())
    }

    async fn dispatch(
        &self,
        op: shapes::Operation,
        ctx: &Ctx,
        input: &Map<String, Value>,
    ) -> Reply {
        use model::{GroupDoc, RoleDoc, UserDoc};
        use shapes::Operation as O;
        let s = &self.store;
        match op {
            O::CreateRole => answer(roles::create(s, ctx, typed(input)?).await),
            O::GetRole => answer(roles::get(s, ctx, typed(input)?)),
            O::ListRoles => answer(roles::list(s, ctx, typed(input)?)),
            O::UpdateRole => answer(roles::update(s, ctx, typed(input)?).await),
            O::UpdateRoleDescription => {
                answer(roles::update_description(s, ctx, typed(input)?).await)
            }
            O::DeleteRole => done(roles::delete(s, ctx, typed(input)?).await),
            O::UpdateAssumeRolePolicy => done(roles::update_trust(s, ctx, typed(input)?).await),
            O::TagRole => done(roles::tag(s, ctx, typed(input)?).await),
            O::UntagRole => done(roles::untag(s, ctx, typed(input)?).await),
            O::ListRoleTags => answer(roles::list_tags(s, ctx, typed(input)?)),

            O::PutRolePolicy => {
                let i: types::PutRolePolicyRequest = typed(input)?;
                done(
                    inline::put::<RoleDoc>(s, ctx, &i.role_name, i.policy_name, i.policy_document)
                        .await,
                )
            }
            O::GetRolePolicy => {
                let i: types::GetRolePolicyRequest = typed(input)?;
                let (role_name, policy_document) =
                    inline::get::<RoleDoc>(s, ctx, &i.role_name, &i.policy_name)?;
                answer(Ok(types::GetRolePolicyResponse {
                    role_name,
                    policy_name: i.policy_name,
                    policy_document,
                }))
            }
            O::ListRolePolicies => {
                let i: types::ListRolePoliciesRequest = typed(input)?;
                let page = inline::list::<RoleDoc>(
                    s,
                    ctx,
                    &i.role_name,
                    i.marker.as_deref(),
                    i.max_items,
                )?;
                answer(Ok(types::ListRolePoliciesResponse {
                    is_truncated: page.is_truncated(),
                    policy_names: page.items,
                    marker: page.next_marker,
                }))
            }
            O::DeleteRolePolicy => {
                let i: types::DeleteRolePolicyRequest = typed(input)?;
                done(inline::delete::<RoleDoc>(s, ctx, &i.role_name, i.policy_name).await)
            }
            O::PutUserPolicy => {
                let i: types::PutUserPolicyRequest = typed(input)?;
                done(
                    inline::put::<UserDoc>(s, ctx, &i.user_name, i.policy_name, i.policy_document)
                        .await,
                )
            }
            O::GetUserPolicy => {
                let i: types::GetUserPolicyRequest = typed(input)?;
                let (user_name, policy_document) =
                    inline::get::<UserDoc>(s, ctx, &i.user_name, &i.policy_name)?;
                answer(Ok(types::GetUserPolicyResponse {
                    user_name,
                    policy_name: i.policy_name,
                    policy_document,
                }))
            }
            O::ListUserPolicies => {
                let i: types::ListUserPoliciesRequest = typed(input)?;
                let page = inline::list::<UserDoc>(
                    s,
                    ctx,
                    &i.user_name,
                    i.marker.as_deref(),
                    i.max_items,
                )?;
                answer(Ok(types::ListUserPoliciesResponse {
                    is_truncated: page.is_truncated(),
                    policy_names: page.items,
                    marker: page.next_marker,
                }))
            }
            O::DeleteUserPolicy => {
                let i: types::DeleteUserPolicyRequest = typed(input)?;
                done(inline::delete::<UserDoc>(s, ctx, &i.user_name, i.policy_name).await)
            }

            O::CreatePolicy => answer(policies::create(s, ctx, typed(input)?).await),
            O::GetPolicy => answer(policies::get(s, ctx, typed(input)?)),
            O::ListPolicies => answer(policies::list(s, ctx, typed(input)?)),
            O::DeletePolicy => done(policies::delete(s, ctx, typed(input)?).await),
            O::GetPolicyVersion => answer(policies::get_version(s, ctx, typed(input)?)),
            O::ListPolicyVersions => answer(policies::list_versions(s, ctx, typed(input)?)),
            O::CreatePolicyVersion => answer(policies::create_version(s, ctx, typed(input)?).await),
            O::SetDefaultPolicyVersion => {
                done(policies::set_default_version(s, ctx, typed(input)?).await)
            }
            O::DeletePolicyVersion => done(policies::delete_version(s, ctx, typed(input)?).await),
            O::AttachRolePolicy => {
                let i: types::AttachRolePolicyRequest = typed(input)?;
                done(policies::attach::<RoleDoc>(s, ctx, &i.role_name, i.policy_arn).await)
            }
            O::DetachRolePolicy => {
                let i: types::DetachRolePolicyRequest = typed(input)?;
                done(policies::detach::<RoleDoc>(s, ctx, &i.role_name, i.policy_arn).await)
            }
            O::ListAttachedRolePolicies => {
                let i: types::ListAttachedRolePoliciesRequest = typed(input)?;
                let page = policies::list_attached::<RoleDoc>(
                    s,
                    ctx,
                    &i.role_name,
                    i.path_prefix.as_deref(),
                    i.marker.as_deref(),
                    i.max_items,
                )?;
                answer(Ok(types::ListAttachedRolePoliciesResponse {
                    is_truncated: page.is_truncated(),
                    attached_policies: Some(page.items),
                    marker: page.next_marker,
                }))
            }
            O::AttachUserPolicy => {
                let i: types::AttachUserPolicyRequest = typed(input)?;
                done(policies::attach::<UserDoc>(s, ctx, &i.user_name, i.policy_arn).await)
            }
            O::DetachUserPolicy => {
                let i: types::DetachUserPolicyRequest = typed(input)?;
                done(policies::detach::<UserDoc>(s, ctx, &i.user_name, i.policy_arn).await)
            }
            O::ListAttachedUserPolicies => {
                let i: types::ListAttachedUserPoliciesRequest = typed(input)?;
                let page = policies::list_attached::<UserDoc>(
                    s,
                    ctx,
                    &i.user_name,
                    i.path_prefix.as_deref(),
                    i.marker.as_deref(),
                    i.max_items,
                )?;
                answer(Ok(types::ListAttachedUserPoliciesResponse {
                    is_truncated: page.is_truncated(),
                    attached_policies: Some(page.items),
                    marker: page.next_marker,
                }))
            }
            O::ListEntitiesForPolicy => answer(policies::list_entities(s, ctx, typed(input)?)),

            O::CreateGroup => answer(groups::create(s, ctx, typed(input)?).await),
            O::GetGroup => answer(groups::get(s, ctx, typed(input)?)),
            O::ListGroups => answer(groups::list(s, ctx, typed(input)?)),
            O::UpdateGroup => done(groups::update(s, ctx, typed(input)?).await),
            O::DeleteGroup => done(groups::delete(s, ctx, typed(input)?).await),
            O::AddUserToGroup => {
                let i: types::AddUserToGroupRequest = typed(input)?;
                done(groups::membership(s, ctx, &i.group_name, &i.user_name, true).await)
            }
            O::RemoveUserFromGroup => {
                let i: types::RemoveUserFromGroupRequest = typed(input)?;
                done(groups::membership(s, ctx, &i.group_name, &i.user_name, false).await)
            }
            O::ListGroupsForUser => answer(groups::list_for_user(s, ctx, typed(input)?)),
            O::PutGroupPolicy => {
                let i: types::PutGroupPolicyRequest = typed(input)?;
                done(
                    inline::put::<GroupDoc>(
                        s,
                        ctx,
                        &i.group_name,
                        i.policy_name,
                        i.policy_document,
                    )
                    .await,
                )
            }
            O::GetGroupPolicy => {
                let i: types::GetGroupPolicyRequest = typed(input)?;
                let (group_name, policy_document) =
                    inline::get::<GroupDoc>(s, ctx, &i.group_name, &i.policy_name)?;
                answer(Ok(types::GetGroupPolicyResponse {
                    group_name,
                    policy_name: i.policy_name,
                    policy_document,
                }))
            }
            O::ListGroupPolicies => {
                let i: types::ListGroupPoliciesRequest = typed(input)?;
                let page = inline::list::<GroupDoc>(
                    s,
                    ctx,
                    &i.group_name,
                    i.marker.as_deref(),
                    i.max_items,
                )?;
                answer(Ok(types::ListGroupPoliciesResponse {
                    is_truncated: page.is_truncated(),
                    policy_names: page.items,
                    marker: page.next_marker,
                }))
            }
            O::DeleteGroupPolicy => {
                let i: types::DeleteGroupPolicyRequest = typed(input)?;
                done(inline::delete::<GroupDoc>(s, ctx, &i.group_name, i.policy_name).await)
            }
            O::AttachGroupPolicy => {
                let i: types::AttachGroupPolicyRequest = typed(input)?;
                done(policies::attach::<GroupDoc>(s, ctx, &i.group_name, i.policy_arn).await)
            }
            O::DetachGroupPolicy => {
                let i: types::DetachGroupPolicyRequest = typed(input)?;
                done(policies::detach::<GroupDoc>(s, ctx, &i.group_name, i.policy_arn).await)
            }
            O::ListAttachedGroupPolicies => {
                let i: types::ListAttachedGroupPoliciesRequest = typed(input)?;
                let page = policies::list_attached::<GroupDoc>(
                    s,
                    ctx,
                    &i.group_name,
                    i.path_prefix.as_deref(),
                    i.marker.as_deref(),
                    i.max_items,
                )?;
                answer(Ok(types::ListAttachedGroupPoliciesResponse {
                    is_truncated: page.is_truncated(),
                    attached_policies: Some(page.items),
                    marker: page.next_marker,
                }))
            }

            O::CreateUser => answer(users::create(s, ctx, typed(input)?).await),
            // The account root has no path or name: see `render::without_empty`.
            O::GetUser => answer(users::get(s, ctx, typed(input)?))
                .map(|xml| render::without_empty(xml, &["Path", "UserName"])),
            O::ListUsers => answer(users::list(s, ctx, typed(input)?)),
            O::DeleteUser => done(users::delete(s, ctx, typed(input)?).await),
            O::UpdateUser => done(users::update(s, ctx, typed(input)?).await),
            O::TagUser => done(users::tag(s, ctx, typed(input)?).await),
            O::UntagUser => done(users::untag(s, ctx, typed(input)?).await),
            O::ListUserTags => answer(users::list_tags(s, ctx, typed(input)?)),
            O::CreateAccessKey => answer(users::create_key(s, ctx, typed(input)?).await)
                .map(|xml| render::without_empty(xml, &["UserName"])),
            O::ListAccessKeys => answer(users::list_keys(s, ctx, typed(input)?)),
            O::UpdateAccessKey => done(users::update_key(s, ctx, typed(input)?).await),
            O::DeleteAccessKey => done(users::delete_key(s, ctx, typed(input)?).await),
            O::GetAccessKeyLastUsed => answer(users::key_last_used(s, ctx, typed(input)?)),

            O::CreateInstanceProfile => answer(profiles::create(s, ctx, typed(input)?).await),
            O::GetInstanceProfile => answer(profiles::get(s, ctx, typed(input)?)),
            O::ListInstanceProfiles => answer(profiles::list(s, ctx, typed(input)?)),
            O::DeleteInstanceProfile => done(profiles::delete(s, ctx, typed(input)?).await),
            O::AddRoleToInstanceProfile => done(profiles::add_role(s, ctx, typed(input)?).await),
            O::RemoveRoleFromInstanceProfile => {
                done(profiles::remove_role(s, ctx, typed(input)?).await)
            }
            O::ListInstanceProfilesForRole => {
                answer(profiles::list_for_role(s, ctx, typed(input)?))
            }

            // An account alias is not something this server keeps: every account has none,
            // as a fresh AWS account has none. Tools (Terraform, the console's sign-in URL)
            // read it, so the read answers.
            O::ListAccountAliases => answer(Ok(types::ListAccountAliasesResponse {
                account_aliases: Vec::new(),
                is_truncated: Some(false),
                marker: None,
            })),

            other => Err(AwsError::new(
                "NotImplemented",
                501,
                format!(
                    "The IAM operation {} is not served by this Tributary server",
                    other.def().name
                ),
            )),
        }
    }
}

/// A handler's typed output as the inner XML of its `<ActionResult>`.
fn answer<T: ToXml>(output: Result<T, AwsError>) -> Reply {
    output.map(|o| wire::result(&o))
}

/// The answer of an operation without output.
fn done(outcome: Result<(), AwsError>) -> Reply {
    outcome.map(|()| None)
}

#[async_trait::async_trait]
impl Service for Iam {
    async fn call(&self, req: Request) -> Response {
        let params = Params::parse(&req.uri, &req.body);
        let (action, op, input) = match wire::operation(
            &shapes::SERVICE,
            "2010-05-08",
            &params,
            shapes::Operation::from_name,
            |o| o.def(),
        ) {
            Ok(read) => read,
            Err(e) => return render_error(&e),
        };
        let def_output = op.def().output.is_some();
        let ctx = Ctx {
            account: req.caller.as_ref().map_or_else(
                || self.cfg.default_account.clone(),
                |c| c.account_id.clone(),
            ),
            caller: req.caller,
            now: self.clock.now_millis(),
        };
        let changes = !(action.starts_with("Get") || action.starts_with("List"));
        let outcome = self.dispatch(op, &ctx, &input).await;
        if changes && outcome.is_ok() {
            directory::changed();
        }
        match outcome {
            // An operation whose model has an output shape answers with its `<...Result>`
            // element even when that is empty (UpdateRole): SDKs look for it.
            Ok(result) => {
                let result = result.or_else(|| def_output.then(String::new));
                query::ok(&action, NAMESPACE, result.as_deref())
            }
            Err(e) => {
                tracing::debug!(action, code = e.code, message = %e.message, "iam request failed");
                render_error(&e)
            }
        }
    }
}

fn render_error(e: &AwsError) -> Response {
    if e.status >= 500 && e.code != "NotImplemented" {
        let e = error::service_failure(e.clone());
        return query::error(NAMESPACE, e.status, e.code, &e.message, false);
    }
    query::error(NAMESPACE, e.status, e.code, &e.message, false)
}
