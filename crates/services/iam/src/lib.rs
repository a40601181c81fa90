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
//! `ValidationError` texts; the handlers then check what the model cannot (existence, quotas,
//! policy grammar through `tributary_policy`).

/// The typed request and response surface, generated from the model by `tributary-codegen`.
#[rustfmt::skip]
pub mod types;

use std::sync::Arc;

use tributary_model::{AwsError, Clock};
use tributary_service::query::{self, Params};
use tributary_service::{Caller, Request, Response, Service};
use tributary_shapes::generated::iam as shapes;
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

/// A handler's answer: the inner XML of its `<ActionResult>`, `None` for actions without
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

    async fn dispatch(&self, op: shapes::Operation, ctx: &Ctx, input: wire::Input<'_>) -> Reply {
        use shapes::Operation as O;
        let s = &self.store;
        match op {
            O::CreateRole => roles::create(s, ctx, input).await,
            O::GetRole => roles::get(s, ctx, input),
            O::ListRoles => roles::list(s, ctx, input),
            O::UpdateRole => roles::update(s, ctx, input, false).await,
            O::UpdateRoleDescription => roles::update(s, ctx, input, true).await,
            O::DeleteRole => roles::delete(s, ctx, input).await,
            O::UpdateAssumeRolePolicy => roles::update_trust(s, ctx, input).await,
            O::TagRole => roles::tag(s, ctx, input).await,
            O::UntagRole => roles::untag(s, ctx, input).await,
            O::ListRoleTags => roles::list_tags(s, ctx, input),

            O::PutRolePolicy => inline::put::<model::RoleDoc>(s, ctx, input).await,
            O::GetRolePolicy => inline::get::<model::RoleDoc>(s, ctx, input),
            O::ListRolePolicies => inline::list::<model::RoleDoc>(s, ctx, input),
            O::DeleteRolePolicy => inline::delete::<model::RoleDoc>(s, ctx, input).await,
            O::PutUserPolicy => inline::put::<model::UserDoc>(s, ctx, input).await,
            O::GetUserPolicy => inline::get::<model::UserDoc>(s, ctx, input),
            O::ListUserPolicies => inline::list::<model::UserDoc>(s, ctx, input),
            O::DeleteUserPolicy => inline::delete::<model::UserDoc>(s, ctx, input).await,

            O::CreatePolicy => policies::create(s, ctx, input).await,
            O::GetPolicy => policies::get(s, ctx, input),
            O::ListPolicies => policies::list(s, ctx, input),
            O::DeletePolicy => policies::delete(s, ctx, input).await,
            O::GetPolicyVersion => policies::get_version(s, ctx, input),
            O::ListPolicyVersions => policies::list_versions(s, ctx, input),
            O::CreatePolicyVersion => policies::create_version(s, ctx, input).await,
            O::SetDefaultPolicyVersion => policies::set_default_version(s, ctx, input).await,
            O::DeletePolicyVersion => policies::delete_version(s, ctx, input).await,
            O::AttachRolePolicy => policies::attach::<model::RoleDoc>(s, ctx, input).await,
            O::DetachRolePolicy => policies::detach::<model::RoleDoc>(s, ctx, input).await,
            O::ListAttachedRolePolicies => policies::list_attached::<model::RoleDoc>(s, ctx, input),
            O::AttachUserPolicy => policies::attach::<model::UserDoc>(s, ctx, input).await,
            O::DetachUserPolicy => policies::detach::<model::UserDoc>(s, ctx, input).await,
            O::ListAttachedUserPolicies => policies::list_attached::<model::UserDoc>(s, ctx, input),
            O::ListEntitiesForPolicy => policies::list_entities(s, ctx, input),

            O::CreateGroup => groups::create(s, ctx, input).await,
            O::GetGroup => groups::get(s, ctx, input),
            O::ListGroups => groups::list(s, ctx, input),
            O::UpdateGroup => groups::update(s, ctx, input).await,
            O::DeleteGroup => groups::delete(s, ctx, input).await,
            O::AddUserToGroup => groups::membership(s, ctx, input, true).await,
            O::RemoveUserFromGroup => groups::membership(s, ctx, input, false).await,
            O::ListGroupsForUser => groups::list_for_user(s, ctx, input),
            O::PutGroupPolicy => inline::put::<model::GroupDoc>(s, ctx, input).await,
            O::GetGroupPolicy => inline::get::<model::GroupDoc>(s, ctx, input),
            O::ListGroupPolicies => inline::list::<model::GroupDoc>(s, ctx, input),
            O::DeleteGroupPolicy => inline::delete::<model::GroupDoc>(s, ctx, input).await,
            O::AttachGroupPolicy => policies::attach::<model::GroupDoc>(s, ctx, input).await,
            O::DetachGroupPolicy => policies::detach::<model::GroupDoc>(s, ctx, input).await,
            O::ListAttachedGroupPolicies => {
                policies::list_attached::<model::GroupDoc>(s, ctx, input)
            }

            O::CreateUser => users::create(s, ctx, input).await,
            O::GetUser => users::get(s, ctx, input),
            O::ListUsers => users::list(s, ctx, input),
            O::DeleteUser => users::delete(s, ctx, input).await,
            O::UpdateUser => users::update(s, ctx, input).await,
            O::TagUser => users::tag(s, ctx, input).await,
            O::UntagUser => users::untag(s, ctx, input).await,
            O::ListUserTags => users::list_tags(s, ctx, input),
            O::CreateAccessKey => users::create_key(s, ctx, input).await,
            O::ListAccessKeys => users::list_keys(s, ctx, input),
            O::UpdateAccessKey => users::update_key(s, ctx, input).await,
            O::DeleteAccessKey => users::delete_key(s, ctx, input).await,
            O::GetAccessKeyLastUsed => users::key_last_used(s, ctx, input),

            O::CreateInstanceProfile => profiles::create(s, ctx, input).await,
            O::GetInstanceProfile => profiles::get(s, ctx, input),
            O::ListInstanceProfiles => profiles::list(s, ctx, input),
            O::DeleteInstanceProfile => profiles::delete(s, ctx, input).await,
            O::AddRoleToInstanceProfile => profiles::add_role(s, ctx, input).await,
            O::RemoveRoleFromInstanceProfile => profiles::remove_role(s, ctx, input).await,
            O::ListInstanceProfilesForRole => profiles::list_for_role(s, ctx, input),

            // An account alias is not something this server keeps: every account has none,
            // as a fresh AWS account has none. Tools (Terraform, the console's sign-in URL)
            // read it, so the read answers.
            O::ListAccountAliases => Ok(Some(
                "<AccountAliases/><IsTruncated>false</IsTruncated>".to_owned(),
            )),

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
        let outcome = self.dispatch(op, &ctx, wire::Input(&input)).await;
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
