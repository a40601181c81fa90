//! A function's resource-based policy: AddPermission, GetPolicy, RemovePermission. One
//! document per function and qualifier (`name` or `name:qualifier`), its statements in the
//! order they were added, as AWS renders them. The IAM check of Invoke reads it
//! ([`Lambda::resource_policy`]).

use serde_json::{json, Map, Value};
use tributary_model::AwsError;
use tributary_service::json::lambda_err;

use crate::types::{
    AddPermissionRequest, AddPermissionResponse, GetPolicyRequest, GetPolicyResponse,
    RemovePermissionRequest,
};
use crate::{resolve, Lambda};

/// Store documents of this kind hold `{"statements": [...], "revision": "..."}`.
pub const POLICY_KIND: &str = "lambda-policy";

fn policy_id(name: &str, qualifier: Option<&str>) -> String {
    match qualifier {
        Some(q) if q != "$LATEST" => format!("{name}:{q}"),
        _ => name.to_owned(),
    }
}

fn statements_of(app: &Lambda, id: &str) -> (Vec<Value>, Option<String>) {
    let cat = app.store.catalog();
    let Some(doc) = cat.doc(POLICY_KIND, id) else {
        return (Vec::new(), None);
    };
    let statements = doc
        .get("statements")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let revision = doc
        .get("revision")
        .and_then(Value::as_str)
        .map(str::to_owned);
    (statements, revision)
}

/// The policy document as AWS renders it: `{"Version":"2012-10-17","Id":"default","Statement":[...]}`.
fn document(statements: &[Value]) -> String {
    json!({"Version": "2012-10-17", "Id": "default", "Statement": statements}).to_string()
}

/// How AWS writes a principal given to AddPermission: an account as its root ARN, `*` as it
/// is, a service name as a service principal, anything else as an AWS principal.
fn principal(p: &str) -> Value {
    if p == "*" {
        json!("*")
    } else if p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit()) {
        json!({"AWS": format!("arn:aws:iam::{p}:root")})
    } else if p.ends_with(".amazonaws.com") || p.ends_with(".amazonaws.com.cn") {
        json!({"Service": p})
    } else {
        json!({"AWS": p})
    }
}

/// `POST /2015-03-31/functions/{F}/policy`.
pub(crate) async fn add_permission(
    app: &Lambda,
    req: AddPermissionRequest,
) -> Result<AddPermissionResponse, AwsError> {
    let t = resolve(app, &req.function_name, req.qualifier.as_deref())?;
    // StatementId, Action and Principal are required: the validator has refused a request
    // without them.
    let (sid, action, who) = (req.statement_id, req.action, req.principal);
    let id = policy_id(&t.function.name, t.qualifier.as_deref());
    let (mut statements, revision) = statements_of(app, &id);
    if let Some(expected) = req.revision_id.as_deref() {
        if revision.as_deref() != Some(expected) {
            return Err(lambda_err::precondition_failed(
                "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id",
            ));
        }
    }
    if statements
        .iter()
        .any(|s| s.get("Sid").and_then(Value::as_str) == Some(&sid))
    {
        return Err(lambda_err::conflict(format!(
            "The statement id ({sid}) provided already exists. Please provide a new statement id, or remove the existing statement."
        )));
    }
    let mut condition = Map::new();
    let mut string_equals = Map::new();
    if let Some(account) = req.source_account {
        string_equals.insert("AWS:SourceAccount".into(), json!(account));
    }
    if let Some(org) = req.principal_org_id {
        string_equals.insert("aws:PrincipalOrgID".into(), json!(org));
    }
    if let Some(token) = req.event_source_token {
        string_equals.insert("lambda:EventSourceToken".into(), json!(token));
    }
    if let Some(auth) = req.function_url_auth_type {
        string_equals.insert("lambda:FunctionUrlAuthType".into(), json!(auth));
    }
    if !string_equals.is_empty() {
        condition.insert("StringEquals".into(), Value::Object(string_equals));
    }
    // `InvokedViaFunctionUrl` is not served (no function URLs): not part of the statement.
    if let Some(source) = req.source_arn {
        condition.insert("ArnLike".into(), json!({"AWS:SourceArn": source}));
    }
    let mut statement = Map::new();
    statement.insert("Sid".into(), json!(sid));
    statement.insert("Effect".into(), json!("Allow"));
    statement.insert("Principal".into(), principal(&who));
    statement.insert("Action".into(), json!(action));
    statement.insert("Resource".into(), json!(t.shown_arn(app)));
    if !condition.is_empty() {
        statement.insert("Condition".into(), Value::Object(condition));
    }
    let statement = Value::Object(statement);
    let shown = statement.to_string();
    statements.push(statement);
    let stored = json!({"statements": statements, "revision": uuid::Uuid::new_v4().to_string()});
    app.store
        .write(move |tx| tx.put_doc(POLICY_KIND, &id, stored.clone()))
        .await?;
    Ok(AddPermissionResponse {
        statement: Some(shown),
    })
}

/// `GET /2015-03-31/functions/{F}/policy`.
pub(crate) fn get_policy(
    app: &Lambda,
    req: GetPolicyRequest,
) -> Result<GetPolicyResponse, AwsError> {
    let t = resolve(app, &req.function_name, req.qualifier.as_deref())?;
    let id = policy_id(&t.function.name, t.qualifier.as_deref());
    let (statements, revision) = statements_of(app, &id);
    if statements.is_empty() {
        return Err(lambda_err::not_found(
            "The resource you requested does not exist.",
        ));
    }
    Ok(GetPolicyResponse {
        policy: Some(document(&statements)),
        revision_id: Some(revision.unwrap_or_default()),
    })
}

/// `DELETE /2015-03-31/functions/{F}/policy/{StatementId}`.
pub(crate) async fn remove_permission(
    app: &Lambda,
    req: RemovePermissionRequest,
) -> Result<(), AwsError> {
    let t = resolve(app, &req.function_name, req.qualifier.as_deref())?;
    let sid = req.statement_id.as_str();
    let id = policy_id(&t.function.name, t.qualifier.as_deref());
    let (mut statements, revision) = statements_of(app, &id);
    if let Some(expected) = &req.revision_id {
        if revision.as_deref() != Some(expected.as_str()) {
            return Err(lambda_err::precondition_failed(
                "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id",
            ));
        }
    }
    let before = statements.len();
    statements.retain(|s| s.get("Sid").and_then(Value::as_str) != Some(sid));
    if statements.len() == before {
        return Err(lambda_err::not_found(format!(
            "Statement {sid} is not found in resource policy."
        )));
    }
    app.store
        .write(move |tx| {
            if statements.is_empty() {
                tx.delete_doc(POLICY_KIND, &id)
            } else {
                let stored =
                    json!({"statements": statements, "revision": uuid::Uuid::new_v4().to_string()});
                tx.put_doc(POLICY_KIND, &id, stored)
            }
        })
        .await
}

impl Lambda {
    /// The resource-based policy of a function (qualified or not), as a document the policy
    /// evaluator reads; `None` when it has none.
    pub fn resource_policy(&self, name: &str, qualifier: Option<&str>) -> Option<String> {
        let (statements, _) = statements_of(self, &policy_id(name, qualifier));
        (!statements.is_empty()).then(|| document(&statements))
    }
}
