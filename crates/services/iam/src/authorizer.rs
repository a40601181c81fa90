//! IAM's decisions for the rest of the server ([`tributary_service::iam::Authorizer`]): a
//! principal named by its ARN is resolved to its identity-based policies and evaluated with
//! `tributary-policy`.

use std::collections::HashMap;

use tributary_policy::{
    access_denied_message, context_for, evaluate, Decision, Policy, PolicyKind, Principal,
    PrincipalKind, Request,
};
use tributary_service::iam::{Authorizer, RoleTrust};

use crate::Directory;

/// The principal an ARN names: the account root, a user, a role (as its sessions act), or a
/// role session (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`, whose role is found by
/// name, since the session ARN drops the role's path). `None` for anything else.
fn principal_of(directory: &Directory, arn: &str) -> Option<Principal> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, _, service, _, account, resource] = parts.as_slice() else {
        return None;
    };
    let account = (*account).to_owned();
    match (*service, resource.split_once('/')) {
        ("iam", None) if *resource == "root" => Some(Principal {
            arn: arn.to_owned(),
            account,
            kind: PrincipalKind::Root,
        }),
        ("iam", Some(("user", _))) => Some(Principal {
            arn: arn.to_owned(),
            account,
            kind: PrincipalKind::User,
        }),
        ("iam", Some(("role", _))) => Some(Principal {
            arn: arn.to_owned(),
            account,
            kind: PrincipalKind::AssumedRole {
                role_arn: arn.to_owned(),
            },
        }),
        ("sts", Some(("assumed-role", rest))) => {
            let (role, _session) = rest.split_once('/')?;
            let role_arn = directory
                .role(&account, role)
                .map(|r| r.arn)
                .unwrap_or_else(|| format!("arn:aws:iam::{account}:role/{role}"));
            Some(Principal {
                arn: arn.to_owned(),
                account,
                kind: PrincipalKind::AssumedRole { role_arn },
            })
        }
        _ => None,
    }
}

impl Authorizer for Directory {
    fn authorize(
        &self,
        principal: &str,
        action: &str,
        resource: &str,
        context: &HashMap<String, Vec<String>>,
        resource_policy: Option<&str>,
    ) -> Result<(), String> {
        let Some(who) = principal_of(self, principal) else {
            return Err(format!(
                "User: {principal} is not authorized to perform: {action} on resource: \
                 {resource} because no identity-based policy allows the {action} action"
            ));
        };
        if who.kind == PrincipalKind::Root {
            return Ok(());
        }
        let identity = self.policies_of(&who);
        let identity: Vec<&Policy> = identity.iter().collect();
        let resource_policy =
            resource_policy.and_then(|text| Policy::parse(text, PolicyKind::Resource).ok());
        let mut ctx = context_for(&who);
        ctx.extend(context.iter().map(|(k, v)| (k.clone(), v.clone())));
        let request = Request {
            principal: &who,
            action,
            resource,
            context: &ctx,
        };
        let evaluation = evaluate(&request, &identity, resource_policy.as_ref());
        match evaluation.decision {
            Decision::Allow => Ok(()),
            _ => Err(access_denied_message(&request, &evaluation)),
        }
    }

    fn generation(&self) -> u64 {
        Directory::generation(self)
    }

    fn role_trust(&self, role_arn: &str, service: &str) -> RoleTrust {
        match self.role_by_arn(role_arn) {
            None => RoleTrust::Missing,
            Some(role) => match role.trust {
                Some(trust) if trust.allows_service_principal(service) => RoleTrust::Trusted,
                _ => RoleTrust::NotTrusted,
            },
        }
    }
}
