//! Document paths (`a.b[2].#c` once resolved), the path trees DynamoDB builds to reject
//! overlapping or conflicting paths, and projection of an item onto a set of paths.

use std::collections::BTreeMap;
use std::fmt;

use tributary_model::attr::{AttributeValue, Item};

/// One step of a document path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathElem {
    /// A map key (or, first, a top-level attribute name).
    Attr(String),
    /// A list index.
    Index(usize),
}

impl PathElem {
    fn same_kind(&self, other: &PathElem) -> bool {
        matches!(
            (self, other),
            (PathElem::Attr(_), PathElem::Attr(_)) | (PathElem::Index(_), PathElem::Index(_))
        )
    }
}

impl fmt::Display for PathElem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElem::Attr(a) => f.write_str(a),
            PathElem::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// A resolved document path; always starts with an attribute name. Displays the way DynamoDB
/// quotes paths in messages: `[a, b, [2]]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Path(pub Vec<PathElem>);

impl Path {
    /// A top-level attribute path.
    pub fn attr(name: impl Into<String>) -> Path {
        Path(vec![PathElem::Attr(name.into())])
    }

    pub fn elems(&self) -> &[PathElem] {
        &self.0
    }

    /// The top-level attribute the path starts at.
    pub fn top(&self) -> &str {
        match self.0.first() {
            Some(PathElem::Attr(a)) => a,
            _ => "",
        }
    }

    /// Whether the path goes below its top-level attribute (`a.b`, `a[0]`).
    pub fn is_nested(&self) -> bool {
        self.0.len() > 1
    }

    /// The value at this path in `item`, if every step exists.
    pub fn resolve<'a>(&self, item: &'a Item) -> Option<&'a AttributeValue> {
        let (first, rest) = self.0.split_first()?;
        let PathElem::Attr(name) = first else {
            return None;
        };
        let mut cur = item.get(name)?;
        for e in rest {
            cur = match (e, cur) {
                (PathElem::Attr(k), AttributeValue::M(m)) => m.get(k)?,
                (PathElem::Index(i), AttributeValue::L(l)) => l.get(*i)?,
                _ => return None,
            };
        }
        Some(cur)
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{e}")?;
        }
        f.write_str("]")
    }
}

/// A tree of paths in insertion order; `None` children are leaves (a path ends there).
#[derive(Debug, Default, Clone)]
pub(crate) struct PathTree {
    pub children: Vec<(PathElem, Option<PathTree>)>,
}

fn chain(rest: &[PathElem]) -> Option<PathTree> {
    let (first, more) = rest.split_first()?;
    Some(PathTree {
        children: vec![(first.clone(), chain(more))],
    })
}

impl PathTree {
    /// Adds `path`, failing with DynamoDB's message when it overlaps (one path is a prefix of
    /// the other) or conflicts (a map key and a list index at the same place) with one already
    /// added.
    pub(crate) fn insert(&mut self, path: &Path) -> Result<(), String> {
        self.insert_at(path, 0)
    }

    fn insert_at(&mut self, path: &Path, depth: usize) -> Result<(), String> {
        let elem = &path.0[depth];
        let Some(i) = self.children.iter().position(|(e, _)| e == elem) else {
            if let Some((first, _)) = self.children.first() {
                if !first.same_kind(elem) {
                    let other = self.leaf_path(&path.0[..depth], None);
                    return Err(format!(
                        "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: {path}, path two: {other}"
                    ));
                }
            }
            self.children
                .push((elem.clone(), chain(&path.0[depth + 1..])));
            return Ok(());
        };
        if depth + 1 < path.0.len() {
            if let Some(sub) = &mut self.children[i].1 {
                return sub.insert_at(path, depth + 1);
            }
        }
        let other = self.leaf_path(&path.0[..depth], Some(i));
        Err(format!(
            "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: {path}, path two: {other}"
        ))
    }

    /// `prefix` followed by child `start` (or the first child) and then first children down to
    /// a leaf: the already-present path a new one collided with.
    fn leaf_path(&self, prefix: &[PathElem], start: Option<usize>) -> Path {
        let mut out = prefix.to_vec();
        let mut node = self;
        let mut idx = start.unwrap_or(0);
        while let Some((e, child)) = node.children.get(idx) {
            out.push(e.clone());
            match child {
                Some(c) => node = c,
                None => break,
            }
            idx = 0;
        }
        Path(out)
    }

    /// Adds `path` without complaint: a path under an existing leaf adds nothing, a path that
    /// ends above existing ones replaces them (projection semantics).
    fn insert_lenient(&mut self, elems: &[PathElem]) {
        let Some((first, rest)) = elems.split_first() else {
            return;
        };
        match self.children.iter().position(|(e, _)| e == first) {
            None => self.children.push((first.clone(), chain(rest))),
            Some(i) => {
                if rest.is_empty() {
                    self.children[i].1 = None;
                } else if let Some(sub) = &mut self.children[i].1 {
                    sub.insert_lenient(rest);
                }
            }
        }
    }

    pub(crate) fn from_paths_lenient(paths: &[Path]) -> PathTree {
        let mut t = PathTree::default();
        for p in paths {
            t.insert_lenient(&p.0);
        }
        t
    }
}

fn project_map(
    tree: &PathTree,
    m: &BTreeMap<String, AttributeValue>,
) -> BTreeMap<String, AttributeValue> {
    let mut out = BTreeMap::new();
    for (e, child) in &tree.children {
        let PathElem::Attr(name) = e else { continue };
        let Some(v) = m.get(name) else { continue };
        let projected = match child {
            None => Some(v.clone()),
            Some(sub) => project_value(sub, v),
        };
        if let Some(p) = projected {
            out.insert(name.clone(), p);
        }
    }
    out
}

fn project_value(tree: &PathTree, v: &AttributeValue) -> Option<AttributeValue> {
    match v {
        AttributeValue::M(m) => {
            let out = project_map(tree, m);
            (!out.is_empty()).then_some(AttributeValue::M(out))
        }
        AttributeValue::L(l) => {
            let mut picked: BTreeMap<usize, AttributeValue> = BTreeMap::new();
            for (e, child) in &tree.children {
                let PathElem::Index(i) = e else { continue };
                let Some(v) = l.get(*i) else { continue };
                let projected = match child {
                    None => Some(v.clone()),
                    Some(sub) => project_value(sub, v),
                };
                if let Some(p) = projected {
                    picked.insert(*i, p);
                }
            }
            (!picked.is_empty()).then(|| AttributeValue::L(picked.into_values().collect()))
        }
        _ => None,
    }
}

/// Projects `item` onto `paths` the way DynamoDB does for ProjectionExpression and for
/// UPDATED_OLD / UPDATED_NEW: nested structure is kept (`a.b` gives `{a: {M: {b: ..}}}`),
/// selected list elements are kept in index order and packed (`l[3], l[1]` gives the two
/// elements in that order), and paths that do not exist are left out.
pub fn project(item: &Item, paths: &[Path]) -> Item {
    project_map(&PathTree::from_paths_lenient(paths), item)
}
