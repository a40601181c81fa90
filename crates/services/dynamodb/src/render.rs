//! The answers that carry items. The generated output types hold an item as attribute values
//! (`serde_json::Value`); `json::output` would serialize each of them again, a second copy of
//! every item returned, so these answers move their items into the body instead.

use serde::Serialize;
use serde_json::Value;
use tributary_model::attr::{wire_item_json, WireItem};
use tributary_service::json::output;

use crate::types;

fn items(list: Vec<WireItem>) -> Value {
    Value::Array(list.into_iter().map(wire_item_json).collect())
}

/// `out` (whose item members were taken out) as JSON, with those members added.
fn with<const N: usize>(out: &impl Serialize, members: [(&str, Option<Value>); N]) -> Value {
    let mut v = output(out);
    if let Value::Object(m) = &mut v {
        for (name, member) in members {
            if let Some(member) = member {
                m.insert(name.to_owned(), member);
            }
        }
    }
    v
}

impl types::GetItemOutput {
    pub(crate) fn into_json(mut self) -> Value {
        let item = self.item.take().map(wire_item_json);
        with(&self, [("Item", item)])
    }
}

impl types::PutItemOutput {
    pub(crate) fn into_json(mut self) -> Value {
        let attributes = self.attributes.take().map(wire_item_json);
        with(&self, [("Attributes", attributes)])
    }
}

impl types::DeleteItemOutput {
    pub(crate) fn into_json(mut self) -> Value {
        let attributes = self.attributes.take().map(wire_item_json);
        with(&self, [("Attributes", attributes)])
    }
}

impl types::UpdateItemOutput {
    pub(crate) fn into_json(mut self) -> Value {
        let attributes = self.attributes.take().map(wire_item_json);
        with(&self, [("Attributes", attributes)])
    }
}

impl types::QueryOutput {
    pub(crate) fn into_json(mut self) -> Value {
        let found = self.items.take().map(items);
        let last = self.last_evaluated_key.take().map(wire_item_json);
        with(&self, [("Items", found), ("LastEvaluatedKey", last)])
    }
}

impl types::ScanOutput {
    pub(crate) fn into_json(mut self) -> Value {
        let found = self.items.take().map(items);
        let last = self.last_evaluated_key.take().map(wire_item_json);
        with(&self, [("Items", found), ("LastEvaluatedKey", last)])
    }
}

impl types::BatchGetItemOutput {
    pub(crate) fn into_json(mut self) -> Value {
        let responses = self.responses.take().map(|r| {
            Value::Object(
                r.into_iter()
                    .map(|(table, found)| (table, items(found)))
                    .collect(),
            )
        });
        with(&self, [("Responses", responses)])
    }
}

impl types::TransactGetItemsOutput {
    pub(crate) fn into_json(mut self) -> Value {
        let responses = self.responses.take().map(|r| {
            Value::Array(
                r.into_iter()
                    .map(|mut one| {
                        let item = one.item.take().map(wire_item_json);
                        with(&one, [("Item", item)])
                    })
                    .collect(),
            )
        });
        with(&self, [("Responses", responses)])
    }
}
