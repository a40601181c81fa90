//! What a stack is made of, as stored: the stack, its resources, its events and its change
//! sets. Stacks and change sets are documents of the store; events are a key-value space,
//! one entry per event in the order they happened.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The store's document kinds and spaces.
pub const STACK_DOC: &str = "cfn-stack";
pub const CHANGE_SET_DOC: &str = "cfn-change-set";
pub const EVENT_SPACE: &str = "cfn-events";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stack {
    /// `arn:aws:cloudformation:<region>:<account>:stack/<name>/<uuid>`.
    pub id: String,
    pub name: String,
    pub status: String,
    #[serde(default)]
    pub status_reason: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    pub created_ms: i64,
    #[serde(default)]
    pub updated_ms: Option<i64>,
    #[serde(default)]
    pub deleted_ms: Option<i64>,
    /// The template as submitted (what GetTemplate answers for `Original`).
    pub template_body: String,
    /// The template after the transforms (`Processed`), as JSON.
    #[serde(default)]
    pub processed: Option<Value>,
    /// Parameter values as given or defaulted, in template order.
    #[serde(default)]
    pub parameters: Vec<ParameterRec>,
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    #[serde(default)]
    pub notification_arns: Vec<String>,
    #[serde(default)]
    pub disable_rollback: bool,
    #[serde(default)]
    pub role_arn: Option<String>,
    #[serde(default)]
    pub timeout_minutes: Option<i64>,
    #[serde(default)]
    pub termination_protection: bool,
    #[serde(default)]
    pub outputs: Vec<OutputRec>,
    /// The exports of other stacks this one imports (`Fn::ImportValue`), as resolved.
    #[serde(default)]
    pub imports: Vec<String>,
    /// The resources, in creation order.
    #[serde(default)]
    pub resources: IndexMap<String, ResourceRec>,
    /// The change set that created or last updated the stack.
    #[serde(default)]
    pub change_set_id: Option<String>,
    /// Events recorded so far (the next event's sequence number).
    #[serde(default)]
    pub event_seq: u64,
}

impl Stack {
    pub fn in_progress(&self) -> bool {
        self.status.ends_with("_IN_PROGRESS")
    }

    pub fn is_deleted(&self) -> bool {
        self.status == "DELETE_COMPLETE"
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ParameterRec {
    pub key: String,
    pub value: String,
    #[serde(default)]
    pub resolved: Option<String>,
    #[serde(default)]
    pub no_echo: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutputRec {
    pub key: String,
    pub value: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub export_name: Option<String>,
}

/// One resource of a stack.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResourceRec {
    pub logical_id: String,
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(default)]
    pub physical_id: Option<String>,
    pub status: String,
    #[serde(default)]
    pub status_reason: Option<String>,
    pub updated_ms: i64,
    /// The properties as planned (references to resources still symbolic): what an update
    /// compares with the new template.
    #[serde(default)]
    pub planned: Value,
    /// The properties as created (every intrinsic resolved).
    #[serde(default)]
    pub properties: Value,
    /// What `Ref` gives.
    #[serde(default)]
    pub ref_value: Option<Value>,
    /// What `Fn::GetAtt` gives, by attribute.
    #[serde(default)]
    pub attributes: Map<String, Value>,
    #[serde(default)]
    pub metadata: Option<Value>,
    #[serde(default)]
    pub dependencies: Vec<String>,
    #[serde(default)]
    pub deletion_policy: String,
    #[serde(default)]
    pub update_replace_policy: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// One stack event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    pub event_id: String,
    pub stack_id: String,
    pub stack_name: String,
    pub logical_id: String,
    #[serde(default)]
    pub physical_id: Option<String>,
    #[serde(rename = "type")]
    pub type_: String,
    pub timestamp_ms: i64,
    pub status: String,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub properties: Option<String>,
}

/// One change of a change set.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Change {
    /// `Add`, `Modify`, `Remove`, `Dynamic`.
    pub action: String,
    pub logical_id: String,
    #[serde(default)]
    pub physical_id: Option<String>,
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False`, `Conditional` (modifications only).
    #[serde(default)]
    pub replacement: Option<String>,
    /// `Properties`, `Metadata`, `DeletionPolicy`, `UpdateReplacePolicy`, `Tags`.
    #[serde(default)]
    pub scope: Vec<String>,
    #[serde(default)]
    pub details: Vec<ChangeDetail>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChangeDetail {
    pub attribute: String,
    pub name: Option<String>,
    pub requires_recreation: String,
    pub evaluation: String,
    pub change_source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangeSet {
    /// `arn:aws:cloudformation:<region>:<account>:changeSet/<name>/<uuid>`.
    pub id: String,
    pub name: String,
    pub stack_id: String,
    pub stack_name: String,
    /// `CREATE` or `UPDATE` (`IMPORT` is not served).
    pub change_set_type: String,
    pub status: String,
    #[serde(default)]
    pub status_reason: Option<String>,
    pub execution_status: String,
    pub created_ms: i64,
    #[serde(default)]
    pub description: Option<String>,
    pub template_body: String,
    #[serde(default)]
    pub parameters: Vec<ParameterRec>,
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    #[serde(default)]
    pub notification_arns: Vec<String>,
    #[serde(default)]
    pub role_arn: Option<String>,
    #[serde(default)]
    pub changes: Vec<Change>,
    #[serde(default)]
    pub disable_rollback: Option<bool>,
}
