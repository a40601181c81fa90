//! Applying a validated UpdateExpression to an item.
//!
//! DynamoDB applies all actions at once against the item as it was before the update: every
//! SET value is computed from the old item, list indexes refer to positions in the old list,
//! elements set past the end of a list are appended in index order, removed elements close up,
//! and a set emptied by DELETE disappears.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use tributary_model::attr::{AttributeValue, Item, MAX_NESTING_LEVELS};
use tributary_model::number;
use tributary_model::AwsError;

use crate::ast::{ArithOp, Operand};
use crate::eval::size_of;
use crate::path::{Path, PathElem};

/// What one update action does at its path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    Set(Operand),
    Remove,
    Add(AttributeValue),
    Delete(AttributeValue),
}

#[derive(Debug, Default, Clone)]
struct UpdTree {
    children: BTreeMap<PathElem, UpdNode>,
}

#[derive(Debug, Clone)]
enum UpdNode {
    Leaf(usize),
    Inner(UpdTree),
}

impl UpdTree {
    fn insert(&mut self, elems: &[PathElem], action: usize) {
        let Some((first, rest)) = elems.split_first() else {
            return;
        };
        if rest.is_empty() {
            self.children.insert(first.clone(), UpdNode::Leaf(action));
            return;
        }
        let node = self
            .children
            .entry(first.clone())
            .or_insert_with(|| UpdNode::Inner(UpdTree::default()));
        if let UpdNode::Inner(sub) = node {
            sub.insert(rest, action);
        }
    }
}

/// A parsed and validated UpdateExpression.
#[derive(Debug, Clone)]
pub struct Update {
    /// In source order.
    actions: Vec<(Path, Action)>,
    tree: UpdTree,
}

fn invalid_path() -> AwsError {
    AwsError::validation(
        "The document path provided in the update expression is invalid for update",
    )
}

fn not_found() -> AwsError {
    AwsError::validation(
        "The provided expression refers to an attribute that does not exist in the item",
    )
}

fn bad_type() -> AwsError {
    AwsError::validation("An operand in the update expression has an incorrect data type")
}

fn number_error(e: number::NumberError) -> AwsError {
    AwsError::validation(e.to_string())
}

/// How many maps and lists enclose one another in `v`. Values are at most
/// [`MAX_NESTING_LEVELS`] deep when parsed, and an update nests them at most one document path
/// (32 steps) deeper, so this recursion is bounded.
fn depth(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::M(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        AttributeValue::L(l) => 1 + l.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn union<T: Clone>(a: &[T], b: &[T], cmp: impl Fn(&T, &T) -> Ordering) -> Vec<T> {
    let mut out: Vec<T> = a.iter().chain(b).cloned().collect();
    out.sort_by(&cmp);
    out.dedup_by(|x, y| cmp(x, y) == Ordering::Equal);
    out
}

fn difference<T: Clone>(a: &[T], b: &[T], cmp: impl Fn(&T, &T) -> Ordering) -> Vec<T> {
    let mut remove: Vec<&T> = b.iter().collect();
    remove.sort_by(|x, y| cmp(x, y));
    a.iter()
        .filter(|x| remove.binary_search_by(|y| cmp(y, x)).is_err())
        .cloned()
        .collect()
}

#[allow(clippy::ptr_arg)] // compared as set elements, which are `String`s
fn num_cmp(a: &String, b: &String) -> Ordering {
    number::compare(a, b)
}

impl Update {
    pub(crate) fn new(actions: Vec<(Path, Action)>) -> Update {
        let mut tree = UpdTree::default();
        for (i, (p, _)) in actions.iter().enumerate() {
            tree.insert(&p.0, i);
        }
        Update { actions, tree }
    }

    pub(crate) fn actions(&self) -> &[(Path, Action)] {
        &self.actions
    }

    /// Every path the update writes or removes, in source order: what UPDATED_OLD and
    /// UPDATED_NEW project (see [`crate::project`]).
    pub fn paths(&self) -> Vec<Path> {
        self.actions.iter().map(|(p, _)| p.clone()).collect()
    }

    /// The distinct top-level attributes the update touches, in first-use order (for "Cannot
    /// update attribute X. This attribute is part of the key" and index checks).
    pub fn top_level_names(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (p, _) in &self.actions {
            if !out.iter().any(|n| n == p.top()) {
                out.push(p.top().to_owned());
            }
        }
        out
    }

    /// The top-level attributes whose paths go below the attribute (`a.b`, `a[0]`), for
    /// "Key attributes must be scalars" checks.
    pub fn nested_top_level_names(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (p, _) in &self.actions {
            if p.is_nested() && !out.iter().any(|n| n == p.top()) {
                out.push(p.top().to_owned());
            }
        }
        out
    }

    /// Whether the update has no actions (never true for a parsed expression).
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// Applies the update to an existing item (a copy of the stored item).
    pub fn apply(&self, item: &mut Item) -> Result<(), AwsError> {
        self.apply_inner(item, false)
    }

    /// Applies the update to an item that did not exist (`item` holds just the key). As
    /// DynamoDB does, removing a nested path under a missing attribute is then ignored instead
    /// of rejected.
    pub fn apply_to_new_item(&self, item: &mut Item) -> Result<(), AwsError> {
        self.apply_inner(item, true)
    }

    fn apply_inner(&self, item: &mut Item, lenient: bool) -> Result<(), AwsError> {
        let applier = Applier {
            update: self,
            root: item,
            lenient,
        };
        let new = applier.map(&self.tree, item)?;
        // A top-level attribute is level 1: at most MAX_NESTING_LEVELS - 1 maps and lists.
        if new.values().any(|v| depth(v) >= MAX_NESTING_LEVELS) {
            return Err(AwsError::validation(
                "Nesting Levels have exceeded supported limits",
            ));
        }
        *item = new;
        Ok(())
    }
}

struct Applier<'a> {
    update: &'a Update,
    root: &'a Item,
    lenient: bool,
}

impl UpdTree {
    fn only_removes(&self, update: &Update) -> bool {
        self.children.values().all(|n| match n {
            UpdNode::Leaf(i) => update.actions[*i].1 == Action::Remove,
            UpdNode::Inner(t) => t.only_removes(update),
        })
    }
}

impl Applier<'_> {
    fn map(
        &self,
        tree: &UpdTree,
        m: &BTreeMap<String, AttributeValue>,
    ) -> Result<BTreeMap<String, AttributeValue>, AwsError> {
        let mut out = m.clone();
        for (elem, node) in &tree.children {
            let PathElem::Attr(name) = elem else {
                return Err(invalid_path());
            };
            let old = m.get(name);
            let new = match node {
                UpdNode::Leaf(i) => self.action(*i, old)?,
                UpdNode::Inner(sub) => match old {
                    Some(v) => Some(self.value(sub, v)?),
                    None if self.lenient && sub.only_removes(self.update) => continue,
                    None => return Err(invalid_path()),
                },
            };
            match new {
                Some(v) => {
                    out.insert(name.clone(), v);
                }
                None => {
                    out.remove(name);
                }
            }
        }
        Ok(out)
    }

    fn value(&self, tree: &UpdTree, v: &AttributeValue) -> Result<AttributeValue, AwsError> {
        match v {
            AttributeValue::M(m) => Ok(AttributeValue::M(self.map(tree, m)?)),
            AttributeValue::L(l) => {
                let mut slots: BTreeMap<usize, AttributeValue> =
                    l.iter().cloned().enumerate().collect();
                for (elem, node) in &tree.children {
                    let PathElem::Index(i) = elem else {
                        return Err(invalid_path());
                    };
                    let old = l.get(*i);
                    let new = match node {
                        UpdNode::Leaf(a) => self.action(*a, old)?,
                        UpdNode::Inner(sub) => match old {
                            Some(v) => Some(self.value(sub, v)?),
                            None => return Err(invalid_path()),
                        },
                    };
                    match new {
                        Some(v) => {
                            slots.insert(*i, v);
                        }
                        None => {
                            slots.remove(i);
                        }
                    }
                }
                Ok(AttributeValue::L(slots.into_values().collect()))
            }
            _ => Err(invalid_path()),
        }
    }

    fn action(
        &self,
        i: usize,
        old: Option<&AttributeValue>,
    ) -> Result<Option<AttributeValue>, AwsError> {
        use AttributeValue as V;
        Ok(match &self.update.actions[i].1 {
            Action::Set(expr) => Some(self.operand(expr)?.ok_or_else(not_found)?),
            Action::Remove => None,
            Action::Add(v) => match (old, v) {
                (None, _) => Some(v.clone()),
                (Some(V::N(a)), V::N(b)) => Some(V::N(number::add(a, b).map_err(number_error)?)),
                (Some(V::Ss(a)), V::Ss(b)) => Some(V::Ss(union(a, b, Ord::cmp))),
                (Some(V::Ns(a)), V::Ns(b)) => Some(V::Ns(union(a, b, num_cmp))),
                (Some(V::Bs(a)), V::Bs(b)) => Some(V::Bs(union(a, b, Ord::cmp))),
                _ => return Err(bad_type()),
            },
            Action::Delete(v) => match (old, v) {
                (None, _) => return Ok(None),
                (Some(V::Ss(a)), V::Ss(b)) => {
                    let d = difference(a, b, Ord::cmp);
                    (!d.is_empty()).then_some(V::Ss(d))
                }
                (Some(V::Ns(a)), V::Ns(b)) => {
                    let d = difference(a, b, num_cmp);
                    (!d.is_empty()).then_some(V::Ns(d))
                }
                (Some(V::Bs(a)), V::Bs(b)) => {
                    let d = difference(a, b, Ord::cmp);
                    (!d.is_empty()).then_some(V::Bs(d))
                }
                _ => return Err(bad_type()),
            },
        })
    }

    /// An operand of a SET value, computed from the item before the update. Function calls and
    /// arithmetic recurse here, with a small frame (the depth is bounded by the parser's
    /// nesting limit); what they compute is done by [`Applier::combine`].
    fn operand(&self, op: &Operand) -> Result<Option<AttributeValue>, AwsError> {
        let (a, b) = match op {
            Operand::Path(p) => return Ok(p.resolve(self.root).cloned()),
            Operand::Value(v) => return Ok(Some(v.clone())),
            Operand::Size(a) => (a, None),
            Operand::IfNotExists(a, b) | Operand::ListAppend(a, b) | Operand::Arith(_, a, b) => {
                (a, Some(b))
            }
        };
        let x = self.operand(a)?;
        let y = match b {
            Some(b) => Some(self.operand(b)?),
            None => None,
        };
        combine(op, x, y.flatten())
    }
}

/// The value of the function call or arithmetic `op` given its operands' values (`None` for a
/// missing one).
#[inline(never)]
fn combine(
    op: &Operand,
    x: Option<AttributeValue>,
    y: Option<AttributeValue>,
) -> Result<Option<AttributeValue>, AwsError> {
    use AttributeValue as V;
    Ok(match op {
        Operand::Path(_) | Operand::Value(_) => x,
        Operand::Size(_) => x.and_then(|v| size_of(&v)).map(|n| V::N(n.to_string())),
        Operand::IfNotExists(..) => {
            let second = y.ok_or_else(not_found)?;
            Some(x.unwrap_or(second))
        }
        Operand::ListAppend(..) => {
            let mut lists = Vec::with_capacity(2);
            for v in [x, y] {
                match v {
                    None => return Err(not_found()),
                    Some(V::L(l)) => lists.push(l),
                    Some(_) => return Err(bad_type()),
                }
            }
            let mut out = lists.remove(0);
            out.extend(lists.remove(0));
            Some(V::L(out))
        }
        Operand::Arith(op, ..) => {
            let mut nums = Vec::with_capacity(2);
            for v in [x, y] {
                match v {
                    None => return Err(not_found()),
                    Some(V::N(n)) => nums.push(n),
                    Some(_) => return Err(bad_type()),
                }
            }
            let r = match op {
                ArithOp::Plus => number::add(&nums[0], &nums[1]),
                ArithOp::Minus => number::sub(&nums[0], &nums[1]),
            };
            Some(V::N(r.map_err(number_error)?))
        }
    })
}
