//! `AWS::IAM::Role`, `Policy`, `ManagedPolicy` and `InstanceProfile`, over IAM's query API.

use serde_json::Value;
use tributary_cfn::Replacement;

use super::*;
use crate::calls::{xml_text, xml_texts};

const VERSION: &str = "2010-05-08";

type Pairs = Vec<(String, String)>;

async fn iam(cx: &Cx<'_>, action: &str, params: Pairs) -> Result<String, ApiError> {
    cx.calls.query("iam", VERSION, action, &params).await
}

fn p(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_owned(), v.into())
}

fn tag_params(tags: &[(String, String)]) -> Pairs {
    tags.iter()
        .enumerate()
        .flat_map(|(i, (k, v))| {
            [
                p(&format!("Tags.member.{}.Key", i + 1), k.clone()),
                p(&format!("Tags.member.{}.Value", i + 1), v.clone()),
            ]
        })
        .collect()
}

fn strings(props: &Value, key: &str) -> Vec<String> {
    props
        .get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Inline policies as `(name, document)`.
fn inline_policies(props: &Value) -> Vec<(String, String)> {
    props
        .get("Policies")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| {
                    Some((string(p, "PolicyName")?, document(p.get("PolicyDocument")?)))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn ignore_gone(r: Result<String, ApiError>) -> HandlerResult<()> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if gone(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Brings a list-valued link of an entity (a role's managed policies, a profile's roles) from
/// `was` to `now`: `unlink` each item gone (already gone is fine), `link` each new one.
async fn relink(
    cx: &Cx<'_>,
    entity: (&str, &str),
    item: &str,
    (was, now): (&[String], &[String]),
    (unlink, link): (&str, &str),
) -> HandlerResult<()> {
    for x in was.iter().filter(|x| !now.contains(x)) {
        ignore_gone(iam(cx, unlink, vec![p(entity.0, entity.1), p(item, x.clone())]).await)?;
    }
    for x in now.iter().filter(|x| !was.contains(x)) {
        iam(cx, link, vec![p(entity.0, entity.1), p(item, x.clone())]).await?;
    }
    Ok(())
}

pub struct Role;

async fn role_attrs(cx: &Cx<'_>, name: &str) -> HandlerResult<Created> {
    let x = iam(cx, "GetRole", vec![p("RoleName", name)]).await?;
    Ok(Created::new(name)
        .with_ref(name)
        .attr("Arn", xml_text(&x, "Arn").unwrap_or_default())
        .attr("RoleId", xml_text(&x, "RoleId").unwrap_or_default()))
}

#[async_trait::async_trait]
impl Handler for Role {
    fn replacement(&self, property: &str) -> Replacement {
        match property {
            "RoleName" | "Path" => Replacement::Always,
            _ => Replacement::Never,
        }
    }

    fn name_property(&self) -> Option<&'static str> {
        Some("RoleName")
    }

    async fn create(&self, cx: &Cx<'_>, logical_id: &str, props: &Value) -> HandlerResult<Created> {
        let name = string(props, "RoleName").unwrap_or_else(|| cx.physical_name(logical_id, 64));
        let trust = props
            .get("AssumeRolePolicyDocument")
            .map(document)
            .ok_or_else(|| {
                Failure::property("#: required key [AssumeRolePolicyDocument] not found")
            })?;
        let mut params = vec![p("RoleName", &name), p("AssumeRolePolicyDocument", trust)];
        for key in [
            "Path",
            "Description",
            "MaxSessionDuration",
            "PermissionsBoundary",
        ] {
            if let Some(v) = string(props, key) {
                params.push(p(key, v));
            }
        }
        params.extend(tag_params(&tags(props, "Tags")));
        iam(cx, "CreateRole", params).await?;
        let created = async {
            for arn in strings(props, "ManagedPolicyArns") {
                iam(
                    cx,
                    "AttachRolePolicy",
                    vec![p("RoleName", &name), p("PolicyArn", arn)],
                )
                .await?;
            }
            for (policy, doc) in inline_policies(props) {
                iam(
                    cx,
                    "PutRolePolicy",
                    vec![
                        p("RoleName", &name),
                        p("PolicyName", policy),
                        p("PolicyDocument", doc),
                    ],
                )
                .await?;
            }
            Ok::<_, ApiError>(())
        }
        .await;
        if let Err(e) = created {
            let _ = remove_role(cx, &name, props).await;
            return Err(e.into());
        }
        role_attrs(cx, &name).await
    }

    async fn update(
        &self,
        cx: &Cx<'_>,
        current: &Current<'_>,
        props: &Value,
    ) -> HandlerResult<Created> {
        let name = current.physical_id;
        let old = current.properties;
        if old.get("AssumeRolePolicyDocument") != props.get("AssumeRolePolicyDocument") {
            let trust = props
                .get("AssumeRolePolicyDocument")
                .map(document)
                .unwrap_or_default();
            iam(
                cx,
                "UpdateAssumeRolePolicy",
                vec![p("RoleName", name), p("PolicyDocument", trust)],
            )
            .await?;
        }
        if old.get("Description") != props.get("Description")
            || old.get("MaxSessionDuration") != props.get("MaxSessionDuration")
        {
            let mut params = vec![
                p("RoleName", name),
                p(
                    "Description",
                    string(props, "Description").unwrap_or_default(),
                ),
            ];
            if let Some(d) = string(props, "MaxSessionDuration") {
                params.push(p("MaxSessionDuration", d));
            }
            iam(cx, "UpdateRole", params).await?;
        }
        let (was, now) = (
            strings(old, "ManagedPolicyArns"),
            strings(props, "ManagedPolicyArns"),
        );
        relink(
            cx,
            ("RoleName", name),
            "PolicyArn",
            (&was, &now),
            ("DetachRolePolicy", "AttachRolePolicy"),
        )
        .await?;
        let (was, now) = (inline_policies(old), inline_policies(props));
        for (policy, _) in was.iter().filter(|(n, _)| !now.iter().any(|(m, _)| m == n)) {
            ignore_gone(
                iam(
                    cx,
                    "DeleteRolePolicy",
                    vec![p("RoleName", name), p("PolicyName", policy)],
                )
                .await,
            )?;
        }
        for (policy, doc) in now.iter().filter(|x| !was.contains(x)) {
            iam(
                cx,
                "PutRolePolicy",
                vec![
                    p("RoleName", name),
                    p("PolicyName", policy),
                    p("PolicyDocument", doc),
                ],
            )
            .await?;
        }
        if let Some(t) = tag_update(old, props) {
            if !t.removed.is_empty() {
                let mut params = vec![p("RoleName", name)];
                params.extend(
                    t.removed
                        .iter()
                        .enumerate()
                        .map(|(i, k)| p(&format!("TagKeys.member.{}", i + 1), k.clone())),
                );
                iam(cx, "UntagRole", params).await?;
            }
            if !t.set.is_empty() {
                let mut params = vec![p("RoleName", name)];
                params.extend(tag_params(&t.set));
                iam(cx, "TagRole", params).await?;
            }
        }
        role_attrs(cx, name).await
    }

    async fn delete(&self, cx: &Cx<'_>, current: &Current<'_>) -> HandlerResult<()> {
        remove_role(cx, current.physical_id, current.properties).await
    }
}

/// Detaches and deletes what the role's own properties gave it, then the role.
async fn remove_role(cx: &Cx<'_>, name: &str, props: &Value) -> HandlerResult<()> {
    for arn in strings(props, "ManagedPolicyArns") {
        ignore_gone(
            iam(
                cx,
                "DetachRolePolicy",
                vec![p("RoleName", name), p("PolicyArn", arn)],
            )
            .await,
        )?;
    }
    for (policy, _) in inline_policies(props) {
        ignore_gone(
            iam(
                cx,
                "DeleteRolePolicy",
                vec![p("RoleName", name), p("PolicyName", policy)],
            )
            .await,
        )?;
    }
    ignore_gone(iam(cx, "DeleteRole", vec![p("RoleName", name)]).await)
}

pub struct Policy;

/// Which entities an inline policy goes to: `(kind, name)`.
fn principals(props: &Value) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for (key, kind) in [("Roles", "Role"), ("Users", "User"), ("Groups", "Group")] {
        for name in strings(props, key) {
            // A role may be given by ARN.
            let name = name.rsplit('/').next().unwrap_or(&name).to_owned();
            out.push((kind, name));
        }
    }
    out
}

async fn put_inline(
    cx: &Cx<'_>,
    kind: &str,
    entity: &str,
    policy: &str,
    doc: &str,
) -> Result<String, ApiError> {
    iam(
        cx,
        &format!("Put{kind}Policy"),
        vec![
            p(&format!("{kind}Name"), entity),
            p("PolicyName", policy),
            p("PolicyDocument", doc),
        ],
    )
    .await
}

async fn delete_inline(cx: &Cx<'_>, kind: &str, entity: &str, policy: &str) -> HandlerResult<()> {
    ignore_gone(
        iam(
            cx,
            &format!("Delete{kind}Policy"),
            vec![p(&format!("{kind}Name"), entity), p("PolicyName", policy)],
        )
        .await,
    )
}

#[async_trait::async_trait]
impl Handler for Policy {
    fn replacement(&self, _: &str) -> Replacement {
        Replacement::Never
    }

    async fn create(&self, cx: &Cx<'_>, logical_id: &str, props: &Value) -> HandlerResult<Created> {
        let name = required(props, "PolicyName")?;
        let doc = props
            .get("PolicyDocument")
            .map(document)
            .ok_or_else(|| Failure::property("#: required key [PolicyDocument] not found"))?;
        let targets = principals(props);
        if targets.is_empty() {
            return Err(Failure::property(
                "At least one of [Roles,Users,Groups] must be non-empty.",
            ));
        }
        let mut done = Vec::new();
        for (kind, entity) in &targets {
            if let Err(e) = put_inline(cx, kind, entity, &name, &doc).await {
                for (k, en) in done {
                    let _ = delete_inline(cx, k, en, &name).await;
                }
                return Err(e.into());
            }
            done.push((*kind, entity.as_str()));
        }
        let id = cx.physical_name(&logical_id.chars().take(5).collect::<String>(), 64);
        Ok(Created::new(id.clone()).with_ref(id.clone()).attr("Id", id))
    }

    async fn update(
        &self,
        cx: &Cx<'_>,
        current: &Current<'_>,
        props: &Value,
    ) -> HandlerResult<Created> {
        let old = current.properties;
        let (old_name, name) = (required(old, "PolicyName")?, required(props, "PolicyName")?);
        let doc = props
            .get("PolicyDocument")
            .map(document)
            .unwrap_or_default();
        let (was, now) = (principals(old), principals(props));
        for (kind, entity) in &was {
            if old_name != name || !now.contains(&(*kind, entity.clone())) {
                delete_inline(cx, kind, entity, &old_name).await?;
            }
        }
        for (kind, entity) in &now {
            put_inline(cx, kind, entity, &name, &doc).await?;
        }
        let mut c = Created::new(current.physical_id).with_ref(current.physical_id);
        c.attributes = current.attributes.clone();
        Ok(c)
    }

    async fn delete(&self, cx: &Cx<'_>, current: &Current<'_>) -> HandlerResult<()> {
        let name = required(current.properties, "PolicyName")?;
        for (kind, entity) in principals(current.properties) {
            delete_inline(cx, kind, &entity, &name).await?;
        }
        Ok(())
    }
}

pub struct ManagedPolicy;

async fn attach(cx: &Cx<'_>, kind: &str, entity: &str, arn: &str, on: bool) -> HandlerResult<()> {
    let action = format!("{}{kind}Policy", if on { "Attach" } else { "Detach" });
    let r = iam(
        cx,
        &action,
        vec![p(&format!("{kind}Name"), entity), p("PolicyArn", arn)],
    )
    .await;
    if on {
        r?;
        Ok(())
    } else {
        ignore_gone(r)
    }
}

#[async_trait::async_trait]
impl Handler for ManagedPolicy {
    fn replacement(&self, property: &str) -> Replacement {
        match property {
            "ManagedPolicyName" | "Path" | "Description" => Replacement::Always,
            _ => Replacement::Never,
        }
    }

    fn name_property(&self) -> Option<&'static str> {
        Some("ManagedPolicyName")
    }

    async fn create(&self, cx: &Cx<'_>, logical_id: &str, props: &Value) -> HandlerResult<Created> {
        let name =
            string(props, "ManagedPolicyName").unwrap_or_else(|| cx.physical_name(logical_id, 128));
        let doc = props
            .get("PolicyDocument")
            .map(document)
            .ok_or_else(|| Failure::property("#: required key [PolicyDocument] not found"))?;
        let mut params = vec![p("PolicyName", &name), p("PolicyDocument", doc)];
        for key in ["Path", "Description"] {
            if let Some(v) = string(props, key) {
                params.push(p(key, v));
            }
        }
        let x = iam(cx, "CreatePolicy", params).await?;
        let arn = xml_text(&x, "Arn").unwrap_or_default();
        for (kind, entity) in principals(props) {
            if let Err(e) = attach(cx, kind, &entity, &arn, true).await {
                let _ = remove_policy(cx, &arn, props).await;
                return Err(e);
            }
        }
        Ok(Created::new(arn.clone())
            .with_ref(arn.clone())
            .attr("PolicyArn", arn))
    }

    async fn update(
        &self,
        cx: &Cx<'_>,
        current: &Current<'_>,
        props: &Value,
    ) -> HandlerResult<Created> {
        let arn = current.physical_id;
        let old = current.properties;
        if old.get("PolicyDocument") != props.get("PolicyDocument") {
            // At most five versions: the oldest non-default one makes room.
            let versions = iam(cx, "ListPolicyVersions", vec![p("PolicyArn", arn)]).await?;
            let ids = xml_texts(&versions, "VersionId");
            let defaults = xml_texts(&versions, "IsDefaultVersion");
            if ids.len() >= 5 {
                if let Some((id, _)) = ids.iter().zip(&defaults).rfind(|(_, d)| *d != "true") {
                    iam(
                        cx,
                        "DeletePolicyVersion",
                        vec![p("PolicyArn", arn), p("VersionId", id.clone())],
                    )
                    .await?;
                }
            }
            let doc = props
                .get("PolicyDocument")
                .map(document)
                .unwrap_or_default();
            iam(
                cx,
                "CreatePolicyVersion",
                vec![
                    p("PolicyArn", arn),
                    p("PolicyDocument", doc),
                    p("SetAsDefault", "true"),
                ],
            )
            .await?;
        }
        let (was, now) = (principals(old), principals(props));
        for (kind, entity) in was.iter().filter(|x| !now.contains(x)) {
            attach(cx, kind, entity, arn, false).await?;
        }
        for (kind, entity) in now.iter().filter(|x| !was.contains(x)) {
            attach(cx, kind, entity, arn, true).await?;
        }
        Ok(Created::new(arn).with_ref(arn).attr("PolicyArn", arn))
    }

    async fn delete(&self, cx: &Cx<'_>, current: &Current<'_>) -> HandlerResult<()> {
        remove_policy(cx, current.physical_id, current.properties).await
    }
}

async fn remove_policy(cx: &Cx<'_>, arn: &str, props: &Value) -> HandlerResult<()> {
    for (kind, entity) in principals(props) {
        attach(cx, kind, &entity, arn, false).await?;
    }
    if let Ok(versions) = iam(cx, "ListPolicyVersions", vec![p("PolicyArn", arn)]).await {
        let ids = xml_texts(&versions, "VersionId");
        let defaults = xml_texts(&versions, "IsDefaultVersion");
        for (id, d) in ids.iter().zip(&defaults) {
            if d != "true" {
                ignore_gone(
                    iam(
                        cx,
                        "DeletePolicyVersion",
                        vec![p("PolicyArn", arn), p("VersionId", id.clone())],
                    )
                    .await,
                )?;
            }
        }
    }
    ignore_gone(iam(cx, "DeletePolicy", vec![p("PolicyArn", arn)]).await)
}

pub struct InstanceProfile;

#[async_trait::async_trait]
impl Handler for InstanceProfile {
    fn replacement(&self, property: &str) -> Replacement {
        match property {
            "InstanceProfileName" | "Path" => Replacement::Always,
            _ => Replacement::Never,
        }
    }

    fn name_property(&self) -> Option<&'static str> {
        Some("InstanceProfileName")
    }

    async fn create(&self, cx: &Cx<'_>, logical_id: &str, props: &Value) -> HandlerResult<Created> {
        let name = string(props, "InstanceProfileName")
            .unwrap_or_else(|| cx.physical_name(logical_id, 128));
        let mut params = vec![p("InstanceProfileName", &name)];
        if let Some(path) = string(props, "Path") {
            params.push(p("Path", path));
        }
        let x = iam(cx, "CreateInstanceProfile", params).await?;
        let arn = xml_text(&x, "Arn").unwrap_or_default();
        for role in strings(props, "Roles") {
            if let Err(e) = iam(
                cx,
                "AddRoleToInstanceProfile",
                vec![p("InstanceProfileName", &name), p("RoleName", role)],
            )
            .await
            {
                let _ = iam(
                    cx,
                    "DeleteInstanceProfile",
                    vec![p("InstanceProfileName", &name)],
                )
                .await;
                return Err(e.into());
            }
        }
        Ok(Created::new(name.clone()).with_ref(name).attr("Arn", arn))
    }

    async fn update(
        &self,
        cx: &Cx<'_>,
        current: &Current<'_>,
        props: &Value,
    ) -> HandlerResult<Created> {
        let name = current.physical_id;
        let (was, now) = (
            strings(current.properties, "Roles"),
            strings(props, "Roles"),
        );
        relink(
            cx,
            ("InstanceProfileName", name),
            "RoleName",
            (&was, &now),
            ("RemoveRoleFromInstanceProfile", "AddRoleToInstanceProfile"),
        )
        .await?;
        let mut c = Created::new(name).with_ref(name);
        c.attributes = current.attributes.clone();
        Ok(c)
    }

    async fn delete(&self, cx: &Cx<'_>, current: &Current<'_>) -> HandlerResult<()> {
        let name = current.physical_id;
        for role in strings(current.properties, "Roles") {
            ignore_gone(
                iam(
                    cx,
                    "RemoveRoleFromInstanceProfile",
                    vec![p("InstanceProfileName", name), p("RoleName", role)],
                )
                .await,
            )?;
        }
        ignore_gone(
            iam(
                cx,
                "DeleteInstanceProfile",
                vec![p("InstanceProfileName", name)],
            )
            .await,
        )
    }
}
