//! FilterCriteria of event source mappings: compiles the EventBridge-style patterns of a
//! mapping's `FilterCriteria.Filters[].Pattern` once, then decides record by record whether the
//! record is delivered to the function or skipped (spec §3.4). Also validates `FilterCriteria`
//! on Create/UpdateEventSourceMapping with the answers AWS gives (spec §1.2, §1.5).
//!
//! Semantics, as AWS Lambda applies them to DynamoDB stream records:
//! * filters are OR-ed; the fields of one pattern are AND-ed; nested pattern objects descend into
//!   the record; a leaf is an array of matchers that are OR-ed; `$or` (an array of at least two
//!   pattern objects) may appear at any level and matches if any of its branches does;
//! * a pattern sees the record exactly as it is delivered, so DynamoDB attributes must be
//!   addressed with their type descriptor (`{"k": {"S": ["v"]}}`) and `N` values are strings:
//!   exact and numeric matchers that use JSON numbers never match them, while
//!   `dynamodb.ApproximateCreationDateTime` is a JSON number and matches `numeric`;
//! * a leaf value is anything but an object: scalars, `null`, and the scalar elements of arrays
//!   (a matcher matches an array if it matches any element); an object is never a leaf, so
//!   `exists: true` on an untyped attribute does not match and `exists: false` does;
//! * when a nested pattern meets an array of objects, it must match within one element
//!   (EventBridge's "array consistency"), so fields of different list elements never combine;
//! * exact numbers compare by their JSON form (`300` is not `300.0`), strings exactly;
//! * `prefix`, `suffix` and `equals-ignore-case` only match strings; `anything-but` needs the
//!   field to be present, and matches every present value that is not excluded (including values
//!   of another type); `numeric` only matches JSON numbers.
//!
//! Not accepted (not in Lambda's documented operator set): `wildcard`, `cidr`, `exactly`.

use serde_json::{Map, Value};

/// Default quota of filters per mapping [doc]. AWS raises it to 10 on request; we do not.
pub const MAX_FILTERS: usize = 5;

/// Longest pattern the Lambda model accepts (`Pattern`: string 0..4096).
pub const MAX_PATTERN_LENGTH: usize = 4096;

/// Deepest nesting of pattern objects (each nested field and each `$or` branch is one level).
/// AWS documents no limit; the deepest field of a DynamoDB stream record is
/// `dynamodb.NewImage.<attr>` followed by two levels (`M`, key) for each of up to 31 nested
/// maps and a type descriptor, 66 levels, so this refuses no pattern that could match a field.
/// It bounds the recursion of compiling and matching patterns (serde_json's 128-level limit on
/// the text comes first for deeper JSON).
pub const MAX_PATTERN_DEPTH: usize = 72;

/// Field names that may not appear inside a `$or` branch, because a pattern using them there is
/// almost certainly a misplaced operator rather than a field (EventBridge rejects them).
const RESERVED_IN_OR: &[&str] = &[
    "exactly",
    "equals-ignore-case",
    "prefix",
    "suffix",
    "anything-but",
    "exists",
    "wildcard",
    "numeric",
    "cidr",
    "=",
    "<",
    "<=",
    ">",
    ">=",
    "regex",
    "not-wildcard",
    "not-equals-ignore-case",
    "date-after",
    "date-on-or-after",
    "date-before",
    "date-on-or-before",
    "in-date-range",
    "ip-address-in-range",
    "ip-address-not-in-range",
];

/// Why a `FilterCriteria` was refused. `Display` is exactly the message the control plane
/// answers; [`FilterError::code`] is the error code (all are HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// A pattern is not JSON, or not a pattern AWS accepts. AWS answers only the fixed message;
    /// `reason` says what was wrong, for logs and tests.
    #[error("Invalid filter pattern definition.")]
    InvalidPattern { reason: String },
    /// More filters than the per-mapping quota.
    #[error("The maximum number of filters for this event source mapping is {MAX_FILTERS}.")]
    TooManyFilters { count: usize },
    /// Patterns longer than the model allows; `violations` holds (1-based index, pattern). This
    /// is a model constraint, so it is reported the way the Lambda input validator reports them.
    #[error("{}", too_long_message(.violations))]
    PatternTooLong { violations: Vec<(usize, String)> },
}

impl FilterError {
    /// The AWS error code to answer with.
    pub fn code(&self) -> &'static str {
        match self {
            FilterError::InvalidPattern { .. } | FilterError::TooManyFilters { .. } => {
                "InvalidParameterValueException"
            }
            FilterError::PatternTooLong { .. } => "ValidationException",
        }
    }

    /// The HTTP status to answer with.
    pub fn http_status(&self) -> u16 {
        400
    }

    fn invalid(reason: impl Into<String>) -> FilterError {
        FilterError::InvalidPattern {
            reason: reason.into(),
        }
    }
}

fn too_long_message(violations: &[(usize, String)]) -> String {
    let detail = violations
        .iter()
        .map(|(index, pattern)| {
            format!(
                "Value '{pattern}' at 'filterCriteria.filters.{index}.member.pattern' failed to \
                 satisfy constraint: Member must have length less than or equal to \
                 {MAX_PATTERN_LENGTH}"
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    match violations.len() {
        1 => format!("1 validation error detected: {detail}"),
        n => format!("{n} validation errors detected: {detail}"),
    }
}

/// Validates the `FilterCriteria` member of a Create/UpdateEventSourceMapping request and
/// returns its pattern strings in order. An empty list (from `{}`, `{"Filters": []}` or
/// `{"Filters": null}`) means "no filters": AWS accepts it and then omits `FilterCriteria` from
/// the mapping, and on Update it clears the filters.
pub fn validate_filter_criteria(criteria: &Value) -> Result<Vec<String>, FilterError> {
    let patterns = patterns_of(criteria)?;
    FilterSet::compile(&patterns)?;
    Ok(patterns)
}

/// The `Filters[].Pattern` strings of a `FilterCriteria` object.
fn patterns_of(criteria: &Value) -> Result<Vec<String>, FilterError> {
    let filters = match criteria {
        Value::Null => return Ok(Vec::new()),
        Value::Object(m) => m.get("Filters"),
        _ => return Err(FilterError::invalid("FilterCriteria is not an object")),
    };
    let filters = match filters {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(filters)) => filters,
        Some(_) => return Err(FilterError::invalid("Filters is not a list")),
    };
    filters
        .iter()
        .map(|f| match f.get("Pattern") {
            Some(Value::String(p)) => Ok(p.clone()),
            _ => Err(FilterError::invalid("a filter has no Pattern string")),
        })
        .collect()
}

/// The compiled filters of one mapping. With no filters every record matches.
#[derive(Debug, Clone, Default)]
pub struct FilterSet {
    patterns: Vec<ObjectPattern>,
}

impl FilterSet {
    /// Compiles pattern strings, checking them as the control plane does: lengths first (a model
    /// constraint), then the filter count, then each pattern's syntax.
    pub fn compile(patterns: &[String]) -> Result<FilterSet, FilterError> {
        // The model counts Java string length, i.e. UTF-16 code units.
        let violations: Vec<(usize, String)> = patterns
            .iter()
            .enumerate()
            .filter(|(_, p)| p.encode_utf16().count() > MAX_PATTERN_LENGTH)
            .map(|(i, p)| (i + 1, p.clone()))
            .collect();
        if !violations.is_empty() {
            return Err(FilterError::PatternTooLong { violations });
        }
        if patterns.len() > MAX_FILTERS {
            return Err(FilterError::TooManyFilters {
                count: patterns.len(),
            });
        }
        let patterns = patterns
            .iter()
            .map(|p| parse_pattern(p).map_err(FilterError::invalid))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FilterSet { patterns })
    }

    /// Compiles a mapping's stored `FilterCriteria` (`{"Filters": [{"Pattern": …}]}`); `None`
    /// means no filters.
    pub fn from_criteria(criteria: Option<&Value>) -> Result<FilterSet, FilterError> {
        match criteria {
            None => Ok(FilterSet::default()),
            Some(c) => FilterSet::compile(&patterns_of(c)?),
        }
    }

    /// True when the mapping has no filters (every record is delivered).
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Number of filters.
    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    /// Whether `record` (one stream record exactly as delivered in `Records`) passes: true when
    /// there are no filters or any filter matches.
    pub fn matches(&self, record: &Value) -> bool {
        self.patterns.is_empty() || self.patterns.iter().any(|p| p.matches(Some(record)))
    }
}

/// One pattern object: every condition must hold.
#[derive(Debug, Clone)]
struct ObjectPattern {
    conditions: Vec<Condition>,
}

#[derive(Debug, Clone)]
enum Condition {
    /// A named field of the current record object.
    Field { name: String, rule: Rule },
    /// `$or`: any branch, each evaluated against the current record object.
    AnyOf(Vec<ObjectPattern>),
}

#[derive(Debug, Clone)]
enum Rule {
    /// A nested pattern object.
    Nested(ObjectPattern),
    /// A leaf: matchers OR-ed.
    Leaf(Vec<Matcher>),
}

#[derive(Debug, Clone)]
enum Matcher {
    /// A scalar (string, number, boolean or null) equal to the value, same JSON type and form.
    Exact(Value),
    /// Lower-cased text.
    EqualsIgnoreCase(String),
    Prefix(Affix),
    Suffix(Affix),
    AnythingBut(Exclusion),
    Numeric(NumericRange),
    /// `exists: true` / `exists: false`.
    Exists(bool),
}

/// The argument of `prefix`/`suffix`; lower-cased when `ignore_case`.
#[derive(Debug, Clone)]
struct Affix {
    text: String,
    ignore_case: bool,
}

#[derive(Debug, Clone)]
enum Exclusion {
    Strings(Vec<String>),
    Numbers(Vec<f64>),
    /// Lower-cased.
    StringsIgnoreCase(Vec<String>),
    Prefix(String),
    Suffix(String),
}

/// A numeric interval; each bound is (value, inclusive).
#[derive(Debug, Clone)]
struct NumericRange {
    lower: Option<(f64, bool)>,
    upper: Option<(f64, bool)>,
}

impl ObjectPattern {
    /// `node` is the record object at this level, or `None` when the record has nothing there
    /// (which can still satisfy `exists: false`).
    fn matches(&self, node: Option<&Value>) -> bool {
        self.conditions.iter().all(|c| match c {
            Condition::Field { name, rule } => {
                let child = node.and_then(|n| n.get(name.as_str()));
                match rule {
                    Rule::Nested(p) => p.matches_nested(child),
                    Rule::Leaf(matchers) => leaf_matches(matchers, child),
                }
            }
            Condition::AnyOf(branches) => branches.iter().any(|b| b.matches(node)),
        })
    }

    fn matches_nested(&self, child: Option<&Value>) -> bool {
        match child {
            Some(Value::Object(_)) => self.matches(child),
            Some(Value::Array(items)) => {
                let mut objects = Vec::new();
                collect_objects(items, &mut objects);
                if objects.is_empty() {
                    self.matches(None)
                } else {
                    objects.into_iter().any(|o| self.matches(Some(o)))
                }
            }
            // A scalar has no fields below it.
            _ => self.matches(None),
        }
    }
}

/// The objects in `items`, nested arrays flattened (without recursing: a record's arrays can
/// nest as deep as its JSON).
fn collect_objects<'a>(items: &'a [Value], out: &mut Vec<&'a Value>) {
    let mut pending: Vec<&'a Value> = items.iter().rev().collect();
    while let Some(item) = pending.pop() {
        match item {
            Value::Object(_) => out.push(item),
            Value::Array(inner) => pending.extend(inner.iter().rev()),
            _ => {}
        }
    }
}

/// The leaf values at a record position: a scalar (or null) itself, or the scalars of an array
/// (nested arrays flattened); objects are never leaves.
fn collect_leaves<'a>(value: Option<&'a Value>, out: &mut Vec<&'a Value>) {
    let mut pending: Vec<&'a Value> = value.into_iter().collect();
    while let Some(v) = pending.pop() {
        match v {
            Value::Object(_) => {}
            Value::Array(items) => pending.extend(items.iter().rev()),
            v => out.push(v),
        }
    }
}

fn leaf_matches(matchers: &[Matcher], child: Option<&Value>) -> bool {
    let mut values = Vec::new();
    collect_leaves(child, &mut values);
    matchers.iter().any(|m| match m {
        Matcher::Exists(want) => values.is_empty() != *want,
        m => values.iter().any(|v| m.matches_value(v)),
    })
}

impl Matcher {
    fn matches_value(&self, v: &Value) -> bool {
        match self {
            // serde_json keeps integers and floats apart, so 300 != 300.0 as AWS documents.
            Matcher::Exact(p) => p == v,
            Matcher::EqualsIgnoreCase(text) => {
                v.as_str().is_some_and(|s| s.to_lowercase() == *text)
            }
            Matcher::Prefix(a) => v.as_str().is_some_and(|s| a.is_prefix_of(s)),
            Matcher::Suffix(a) => v.as_str().is_some_and(|s| a.is_suffix_of(s)),
            Matcher::AnythingBut(e) => e.allows(v),
            Matcher::Numeric(r) => v.is_number() && v.as_f64().is_some_and(|x| r.contains(x)),
            Matcher::Exists(_) => false,
        }
    }
}

impl Affix {
    fn is_prefix_of(&self, s: &str) -> bool {
        if self.ignore_case {
            s.to_lowercase().starts_with(&self.text)
        } else {
            s.starts_with(&self.text)
        }
    }

    fn is_suffix_of(&self, s: &str) -> bool {
        if self.ignore_case {
            s.to_lowercase().ends_with(&self.text)
        } else {
            s.ends_with(&self.text)
        }
    }
}

impl Exclusion {
    /// Whether a present value passes `anything-but`: only values of the excluded kind can be
    /// excluded; everything else passes.
    fn allows(&self, v: &Value) -> bool {
        match (self, v) {
            (Exclusion::Strings(set), Value::String(s)) => !set.contains(s),
            (Exclusion::StringsIgnoreCase(set), Value::String(s)) => {
                !set.contains(&s.to_lowercase())
            }
            (Exclusion::Prefix(p), Value::String(s)) => !s.starts_with(p.as_str()),
            (Exclusion::Suffix(p), Value::String(s)) => !s.ends_with(p.as_str()),
            (Exclusion::Numbers(set), Value::Number(n)) => {
                n.as_f64().is_none_or(|x| !set.contains(&x))
            }
            _ => true,
        }
    }
}

impl NumericRange {
    fn contains(&self, x: f64) -> bool {
        let above = self
            .lower
            .is_none_or(|(b, inclusive)| if inclusive { x >= b } else { x > b });
        let below = self
            .upper
            .is_none_or(|(t, inclusive)| if inclusive { x <= t } else { x < t });
        above && below
    }
}

// ---- pattern parsing -------------------------------------------------------------------------
//
// Parsing goes through serde_json::Value, whose objects keep the last of duplicate keys; that is
// the "last occurrence wins" AWS documents for patterns that repeat a key.

fn parse_pattern(text: &str) -> Result<ObjectPattern, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("pattern is not valid JSON: {e}"))?;
    pattern_of(&value)
}

fn pattern_of(value: &Value) -> Result<ObjectPattern, String> {
    match value {
        Value::Object(fields) => parse_object(fields, false, 1),
        _ => Err("pattern is not a JSON object".to_owned()),
    }
}

/// A pattern object at nesting `depth` (the top-level object is 1).
fn parse_object(
    fields: &Map<String, Value>,
    in_or: bool,
    depth: usize,
) -> Result<ObjectPattern, String> {
    if depth > MAX_PATTERN_DEPTH {
        return Err(format!(
            "pattern objects nest more than {MAX_PATTERN_DEPTH} levels"
        ));
    }
    if fields.is_empty() {
        return Err("empty objects are not allowed".to_owned());
    }
    let mut conditions = Vec::with_capacity(fields.len());
    for (name, value) in fields {
        if name == "$or" {
            conditions.push(Condition::AnyOf(parse_or(value, depth)?));
            continue;
        }
        if in_or && RESERVED_IN_OR.contains(&name.as_str()) {
            return Err(format!("{name} is a reserved field name inside $or"));
        }
        let rule = match value {
            Value::Object(sub) => Rule::Nested(parse_object(sub, in_or, depth + 1)?),
            Value::Array(items) => Rule::Leaf(parse_leaf(items)?),
            _ => return Err(format!("\"{name}\" must be an object or an array")),
        };
        conditions.push(Condition::Field {
            name: name.clone(),
            rule,
        });
    }
    Ok(ObjectPattern { conditions })
}

/// The branches of a `$or` found in a pattern object at `depth`.
fn parse_or(value: &Value, depth: usize) -> Result<Vec<ObjectPattern>, String> {
    let Value::Array(items) = value else {
        return Err("$or must be followed by an array".to_owned());
    };
    let branches = items
        .iter()
        .map(|item| match item {
            Value::Object(fields) => parse_object(fields, true, depth + 1),
            _ => Err("only objects are allowed in a $or array".to_owned()),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if branches.len() < 2 {
        return Err("$or needs at least 2 objects".to_owned());
    }
    Ok(branches)
}

fn parse_leaf(items: &[Value]) -> Result<Vec<Matcher>, String> {
    if items.is_empty() {
        return Err("empty arrays are not allowed".to_owned());
    }
    items.iter().map(parse_matcher).collect()
}

fn parse_matcher(item: &Value) -> Result<Matcher, String> {
    match item {
        Value::Object(op) => parse_operator(op),
        Value::Array(_) => {
            Err("match values must be strings, numbers, booleans or null".to_owned())
        }
        scalar => Ok(Matcher::Exact(scalar.clone())),
    }
}

/// The single `(name, argument)` pair of an operator object.
fn single_entry<'a>(
    op: &'a Map<String, Value>,
    what: &str,
) -> Result<(&'a str, &'a Value), String> {
    let mut entries = op.iter();
    match (entries.next(), entries.next()) {
        (Some((name, arg)), None) => Ok((name.as_str(), arg)),
        (None, _) => Err(format!("{what} has no operator")),
        (Some(_), Some(_)) => Err(format!("{what} has more than one key")),
    }
}

fn parse_operator(op: &Map<String, Value>) -> Result<Matcher, String> {
    let (name, arg) = single_entry(op, "a match expression")?;
    match name {
        "equals-ignore-case" => match arg {
            Value::String(s) => Ok(Matcher::EqualsIgnoreCase(s.to_lowercase())),
            _ => Err("equals-ignore-case needs a string".to_owned()),
        },
        "prefix" => Ok(Matcher::Prefix(parse_affix(arg, "prefix")?)),
        "suffix" => Ok(Matcher::Suffix(parse_affix(arg, "suffix")?)),
        "anything-but" => Ok(Matcher::AnythingBut(parse_anything_but(arg)?)),
        "numeric" => Ok(Matcher::Numeric(parse_numeric(arg)?)),
        "exists" => match arg {
            Value::Bool(b) => Ok(Matcher::Exists(*b)),
            _ => Err("exists needs true or false".to_owned()),
        },
        other => Err(format!("unsupported operator {other}")),
    }
}

/// `"text"` or `{"equals-ignore-case": "text"}`.
fn parse_affix(arg: &Value, what: &str) -> Result<Affix, String> {
    match arg {
        Value::String(s) => Ok(Affix {
            text: s.clone(),
            ignore_case: false,
        }),
        Value::Object(op) => match single_entry(op, what)? {
            ("equals-ignore-case", Value::String(s)) => Ok(Affix {
                text: s.to_lowercase(),
                ignore_case: true,
            }),
            _ => Err(format!(
                "{what} needs a string or {{\"equals-ignore-case\": string}}"
            )),
        },
        _ => Err(format!("{what} needs a string")),
    }
}

fn parse_anything_but(arg: &Value) -> Result<Exclusion, String> {
    match arg {
        Value::String(s) => Ok(Exclusion::Strings(vec![s.clone()])),
        Value::Number(n) => Ok(Exclusion::Numbers(vec![number(n)?])),
        Value::Array(items) => {
            if items.iter().all(Value::is_string) && !items.is_empty() {
                Ok(Exclusion::Strings(
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect(),
                ))
            } else if items.iter().all(Value::is_number) && !items.is_empty() {
                Ok(Exclusion::Numbers(
                    items.iter().filter_map(Value::as_f64).collect(),
                ))
            } else {
                Err(
                    "anything-but needs a non-empty list of only strings or only numbers"
                        .to_owned(),
                )
            }
        }
        Value::Object(op) => match single_entry(op, "anything-but")? {
            ("prefix", Value::String(s)) if !s.is_empty() => Ok(Exclusion::Prefix(s.clone())),
            ("suffix", Value::String(s)) if !s.is_empty() => Ok(Exclusion::Suffix(s.clone())),
            ("equals-ignore-case", Value::String(s)) => {
                Ok(Exclusion::StringsIgnoreCase(vec![s.to_lowercase()]))
            }
            ("equals-ignore-case", Value::Array(items))
                if !items.is_empty() && items.iter().all(Value::is_string) =>
            {
                Ok(Exclusion::StringsIgnoreCase(
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_lowercase)
                        .collect(),
                ))
            }
            (name, _) => Err(format!("unsupported anything-but argument {name}")),
        },
        _ => Err("anything-but needs a string, a number, a list or an operator".to_owned()),
    }
}

fn number(n: &serde_json::Number) -> Result<f64, String> {
    n.as_f64()
        .ok_or_else(|| format!("{n} is not a usable number"))
}

/// `["=", x]`, `["<" | "<=" | ">" | ">=", x]`, or a range `[">" | ">=", low, "<" | "<=", high]`
/// with `low < high`.
fn parse_numeric(arg: &Value) -> Result<NumericRange, String> {
    let Value::Array(terms) = arg else {
        return Err("numeric needs an array".to_owned());
    };
    let op = |i: usize| terms.get(i).and_then(Value::as_str);
    let num = |i: usize| match terms.get(i) {
        Some(Value::Number(n)) => number(n),
        _ => Err(format!("numeric term {} must be a number", i + 1)),
    };
    let bound = |inclusive: bool, i: usize| num(i).map(|x| Some((x, inclusive)));
    let range = match (op(0), terms.len()) {
        (Some("="), 2) => {
            let x = num(1)?;
            NumericRange {
                lower: Some((x, true)),
                upper: Some((x, true)),
            }
        }
        (Some(o @ ("<" | "<=")), 2) => NumericRange {
            lower: None,
            upper: bound(o == "<=", 1)?,
        },
        (Some(o @ (">" | ">=")), 2) => NumericRange {
            lower: bound(o == ">=", 1)?,
            upper: None,
        },
        (Some(lo @ (">" | ">=")), 4) => {
            let hi = match op(2) {
                Some(hi @ ("<" | "<=")) => hi,
                _ => {
                    return Err(
                        "a numeric range must be a lower bound then an upper bound".to_owned()
                    )
                }
            };
            let (low, high) = (num(1)?, num(3)?);
            if low >= high {
                return Err("the bottom of a numeric range must be less than its top".to_owned());
            }
            NumericRange {
                lower: Some((low, lo == ">=")),
                upper: Some((high, hi == "<=")),
            }
        }
        _ => return Err(format!("invalid numeric expression {arg}")),
    };
    Ok(range)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const STREAM_ARN: &str =
        "arn:aws:dynamodb:us-east-1:111111111111:table/T/stream/2025-11-25T15:47:40.123";

    /// A DynamoDB stream record shaped as Lambda delivers it (spec §2.1).
    fn record(event_name: &str, keys: Value, new: Option<Value>, old: Option<Value>) -> Value {
        let mut ddb = json!({
            "ApproximateCreationDateTime": 1764085660.0,
            "Keys": keys,
            "SequenceNumber": "4421584500000000017450439091",
            "SizeBytes": 70,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        });
        if let Some(n) = new {
            ddb["NewImage"] = n;
        }
        if let Some(o) = old {
            ddb["OldImage"] = o;
        }
        json!({
            "eventID": "c81e728d9d4c2f636f067f89cc14862c",
            "eventName": event_name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "dynamodb": ddb,
            "eventSourceARN": STREAM_ARN,
        })
    }

    /// An INSERT of `item` into a table keyed by `id`.
    fn insert(item: Value) -> Value {
        let keys = json!({ "id": item["id"].clone() });
        record("INSERT", keys, Some(item), None)
    }

    /// A MODIFY from `old` to `new`.
    fn modify(old: Value, new: Value) -> Value {
        let keys = json!({ "id": new["id"].clone() });
        record("MODIFY", keys, Some(new), Some(old))
    }

    fn set(patterns: &[&str]) -> FilterSet {
        let owned: Vec<String> = patterns.iter().map(|p| (*p).to_owned()).collect();
        match FilterSet::compile(&owned) {
            Ok(s) => s,
            Err(e) => panic!("patterns {patterns:?} rejected: {e:?}"),
        }
    }

    fn run(cases: Vec<(&str, Vec<&str>, Value, bool)>) {
        let mut failures = Vec::new();
        for (name, patterns, rec, expected) in cases {
            let got = set(&patterns).matches(&rec);
            if got != expected {
                failures.push(format!("{name}: expected {expected}, got {got}"));
            }
        }
        assert!(
            failures.is_empty(),
            "failing cases:\n{}",
            failures.join("\n")
        );
    }

    /// Every outcome AWS recorded for DynamoDB-stream filters (spec §3.4, LocalStack's
    /// `test_dynamodb_event_filter` parametrisations validated against AWS): each pair of writes
    /// and whether each record reached the function.
    #[test]
    fn aws_recorded_outcomes() {
        let s = |v: &str| json!({ "S": v });
        let n = |v: &str| json!({ "N": v });
        run(vec![
            // insert_same_entry_twice: only the INSERT passes (a changing re-put is a MODIFY).
            (
                "eventName INSERT: INSERT",
                vec![r#"{"eventName": ["INSERT"]}"#],
                insert(json!({"id": s("id_value"), "id2": s("id2_value")})),
                true,
            ),
            (
                "eventName INSERT: MODIFY",
                vec![r#"{"eventName": ["INSERT"]}"#],
                modify(
                    json!({"id": s("id_value")}),
                    json!({"id": s("id_value"), "id2": s("id2_value")}),
                ),
                false,
            ),
            // content_or_filter: both records pass.
            (
                "eventName INSERT|MODIFY: INSERT",
                vec![r#"{"eventName": ["INSERT", "MODIFY"]}"#],
                insert(json!({"id": s("id_value")})),
                true,
            ),
            (
                "eventName INSERT|MODIFY: MODIFY",
                vec![r#"{"eventName": ["INSERT", "MODIFY"]}"#],
                modify(
                    json!({"id": s("id_value")}),
                    json!({"id": s("id_value"), "id2": s("id2_new_value")}),
                ),
                true,
            ),
            // content_multiple_filters: metadata fields AND-ed.
            (
                "eventName AND eventSource: INSERT",
                vec![r#"{"eventName": ["INSERT"], "eventSource": ["aws:dynamodb"]}"#],
                insert(json!({"id": s("id_value")})),
                true,
            ),
            (
                "eventName AND eventSource: MODIFY",
                vec![r#"{"eventName": ["INSERT"], "eventSource": ["aws:dynamodb"]}"#],
                modify(
                    json!({"id": s("id_value")}),
                    json!({"id": s("id_value"), "id2": s("id2_new_value")}),
                ),
                false,
            ),
            // content_filter_type: typed path matches, the record without the key does not.
            (
                "typed S: present",
                vec![r#"{"dynamodb": {"NewImage": {"presentKey": {"S": ["presentValue"]}}}}"#],
                insert(json!({"id": s("id_value_1"), "presentKey": s("presentValue")})),
                true,
            ),
            (
                "typed S: absent",
                vec![r#"{"dynamodb": {"NewImage": {"presentKey": {"S": ["presentValue"]}}}}"#],
                insert(json!({"id": s("id_value_2")})),
                false,
            ),
            (
                "omitting S does not match",
                vec![r#"{"dynamodb": {"NewImage": {"presentKey": ["presentValue"]}}}"#],
                insert(json!({"id": s("id_value_1"), "presentKey": s("presentValue")})),
                false,
            ),
            // exists_filter_type: exists:true on the typed leaf.
            (
                "exists true typed: present",
                vec![r#"{"dynamodb": {"NewImage": {"presentKey": {"S": [{"exists": true}]}}}}"#],
                insert(json!({"id": s("id_value_1"), "presentKey": s("presentValue")})),
                true,
            ),
            (
                "exists true typed: absent",
                vec![r#"{"dynamodb": {"NewImage": {"presentKey": {"S": [{"exists": true}]}}}}"#],
                insert(json!({"id": s("id_value_2")})),
                false,
            ),
            (
                "exists true without S does not match",
                vec![r#"{"dynamodb": {"NewImage": {"presentKey": [{"exists": true}]}}}"#],
                insert(json!({"id": s("id_value_1"), "presentKey": s("presentValue")})),
                false,
            ),
            // exists_false_filter: both records pass; the untyped key is never a leaf.
            (
                "exists false untyped: absent",
                vec![r#"{"dynamodb": {"NewImage": {"presentKey": [{"exists": false}]}}}"#],
                insert(json!({"id": s("id_value_1")})),
                true,
            ),
            (
                "exists false untyped: present",
                vec![r#"{"dynamodb": {"NewImage": {"presentKey": [{"exists": false}]}}}"#],
                insert(json!({"id": s("id_value_2"), "presentKey": s("presentValue")})),
                true,
            ),
            // numeric_filter: N values are strings, so numeric never matches; anything-but does.
            (
                "numeric or anything-but: N 42",
                vec![
                    r#"{"dynamodb": {"NewImage": {"numericFilter": {"N": [{"numeric": [">", 100]}, {"anything-but": "101"}]}}}}"#,
                ],
                insert(json!({"id": s("id_value_1"), "numericFilter": n("42")})),
                true,
            ),
            (
                "numeric or anything-but: N 101",
                vec![
                    r#"{"dynamodb": {"NewImage": {"numericFilter": {"N": [{"numeric": [">", 100]}, {"anything-but": "101"}]}}}}"#,
                ],
                insert(json!({"id": s("id_value_2"), "numericFilter": n("101")})),
                false,
            ),
            // prefix_filter: the second write replaces the item (MODIFY) with a non-matching value.
            (
                "prefix: us-1-other-suffix",
                vec![r#"{"dynamodb": {"NewImage": {"prefix": {"S": [{"prefix": "us-1"}]}}}}"#],
                insert(json!({"id": s("id_value_1"), "prefix": s("us-1-other-suffix")})),
                true,
            ),
            (
                "prefix: other-suffix",
                vec![r#"{"dynamodb": {"NewImage": {"prefix": {"S": [{"prefix": "us-1"}]}}}}"#],
                modify(
                    json!({"id": s("id_value_1"), "prefix": s("us-1-other-suffix")}),
                    json!({"id": s("id_value_1"), "prefix": s("other-suffix")}),
                ),
                false,
            ),
            // date_time_conversion: ApproximateCreationDateTime is a JSON number.
            (
                "ApproximateCreationDateTime numeric > 0: first",
                vec![r#"{"dynamodb": {"ApproximateCreationDateTime": [{"numeric": [">", 0]}]}}"#],
                insert(json!({"id": s("id_value_1")})),
                true,
            ),
            (
                "ApproximateCreationDateTime numeric > 0: second",
                vec![r#"{"dynamodb": {"ApproximateCreationDateTime": [{"numeric": [">", 0]}]}}"#],
                insert(json!({"id": s("id_value_2")})),
                true,
            ),
        ]);
    }

    /// The rules around DynamoDB's typed values that follow from the recorded outcomes.
    #[test]
    fn dynamodb_typed_values() {
        let rec = insert(json!({
            "id": {"S": "k1"},
            "count": {"N": "5"},
            "flag": {"BOOL": true},
            "nothing": {"NULL": true},
            "tags": {"SS": ["red", "blue"]},
            "scores": {"NS": ["1", "20"]},
            "items": {"L": [{"S": "a"}, {"N": "2"}]},
            "rows": {"L": [
                {"M": {"k": {"S": "x"}, "v": {"S": "1"}}},
                {"M": {"k": {"S": "y"}, "v": {"S": "2"}}},
            ]},
            "doc": {"M": {"inner": {"S": "deep"}}},
        }));
        let img = |p: &str| format!(r#"{{"dynamodb": {{"NewImage": {p}}}}}"#);
        let cases: Vec<(&str, String, bool)> = vec![
            ("N as string", img(r#"{"count": {"N": ["5"]}}"#), true),
            ("N as JSON number never matches", img(r#"{"count": {"N": [5]}}"#), false),
            ("numeric = on N never matches", img(r#"{"count": {"N": [{"numeric": ["=", 5]}]}}"#), false),
            ("numeric range on N never matches", img(r#"{"count": {"N": [{"numeric": [">", 0, "<=", 10]}]}}"#), false),
            ("anything-but number passes an N string", img(r#"{"count": {"N": [{"anything-but": [5]}]}}"#), true),
            ("anything-but the N string", img(r#"{"count": {"N": [{"anything-but": ["5"]}]}}"#), false),
            ("BOOL true", img(r#"{"flag": {"BOOL": [true]}}"#), true),
            ("BOOL false", img(r#"{"flag": {"BOOL": [false]}}"#), false),
            ("BOOL as string", img(r#"{"flag": {"BOOL": ["true"]}}"#), false),
            ("NULL attribute", img(r#"{"nothing": {"NULL": [true]}}"#), true),
            ("SS contains", img(r#"{"tags": {"SS": ["blue"]}}"#), true),
            ("SS does not contain", img(r#"{"tags": {"SS": ["green"]}}"#), false),
            ("SS anything-but one element", img(r#"{"tags": {"SS": [{"anything-but": ["red"]}]}}"#), true),
            ("SS anything-but every element", img(r#"{"tags": {"SS": [{"anything-but": ["red", "blue"]}]}}"#), false),
            ("NS string element", img(r#"{"scores": {"NS": ["20"]}}"#), true),
            ("L element", img(r#"{"items": {"L": {"N": ["2"]}}}"#), true),
            ("L element missing", img(r#"{"items": {"L": {"N": ["3"]}}}"#), false),
            ("L of M, fields of one element", img(r#"{"rows": {"L": {"M": {"k": {"S": ["y"]}, "v": {"S": ["2"]}}}}}"#), true),
            ("L of M, fields of different elements", img(r#"{"rows": {"L": {"M": {"k": {"S": ["x"]}, "v": {"S": ["2"]}}}}}"#), false),
            ("M nested", img(r#"{"doc": {"M": {"inner": {"S": ["deep"]}}}}"#), true),
            ("Keys", r#"{"dynamodb": {"Keys": {"id": {"S": ["k1"]}}}}"#.to_owned(), true),
            ("OldImage absent on INSERT", r#"{"dynamodb": {"OldImage": {"id": {"S": [{"exists": true}]}}}}"#.to_owned(), false),
            ("OldImage exists:false on INSERT", r#"{"dynamodb": {"OldImage": {"id": {"S": [{"exists": false}]}}}}"#.to_owned(), true),
            ("typed exists:false on a present attribute", img(r#"{"id": {"S": [{"exists": false}]}}"#), false),
            ("exact ApproximateCreationDateTime float", r#"{"dynamodb": {"ApproximateCreationDateTime": [1764085660.0]}}"#.to_owned(), true),
            ("exact ApproximateCreationDateTime int form differs", r#"{"dynamodb": {"ApproximateCreationDateTime": [1764085660]}}"#.to_owned(), false),
            ("ApproximateCreationDateTime range", r#"{"dynamodb": {"ApproximateCreationDateTime": [{"numeric": [">=", 1764085660, "<", 1764085661]}]}}"#.to_owned(), true),
            ("ApproximateCreationDateTime below", r#"{"dynamodb": {"ApproximateCreationDateTime": [{"numeric": ["<", 1764085660]}]}}"#.to_owned(), false),
            ("awsRegion", r#"{"awsRegion": ["us-east-1"]}"#.to_owned(), true),
            ("eventSourceARN suffix", r#"{"eventSourceARN": [{"suffix": "2025-11-25T15:47:40.123"}]}"#.to_owned(), true),
        ];
        run(cases
            .iter()
            .map(|(name, p, expected)| (*name, vec![p.as_str()], rec.clone(), *expected))
            .collect());
    }

    /// Each operator's positive and negative cases on a plain JSON record.
    #[test]
    fn operators() {
        let rec = json!({
            "s": "Hello World",
            "n": 5,
            "f": 300.0,
            "neg": -3,
            "big": 4000000000i64,
            "b": true,
            "z": null,
            "e": "",
            "arr": ["a", "b"],
            "nums": [1, 20],
            "obj": {"x": "y"},
            "empty": [],
            "objs": [{"k": "a"}, {"k": "b"}],
            "nested": {"deeper": {"leaf": "v"}},
        });
        let cases: Vec<(&str, &str, bool)> = vec![
            // exact
            ("string", r#"{"s": ["Hello World"]}"#, true),
            (
                "string is case-sensitive",
                r#"{"s": ["hello world"]}"#,
                false,
            ),
            ("string OR", r#"{"s": ["x", "Hello World"]}"#, true),
            ("string OR, none", r#"{"s": ["x", "y"]}"#, false),
            ("number", r#"{"n": [5]}"#, true),
            ("number other", r#"{"n": [6]}"#, false),
            ("number vs string", r#"{"n": ["5"]}"#, false),
            ("300 is not 300.0", r#"{"f": [300]}"#, false),
            ("300.0 is 300.0", r#"{"f": [300.0]}"#, true),
            ("negative", r#"{"neg": [-3]}"#, true),
            ("boolean", r#"{"b": [true]}"#, true),
            ("boolean other", r#"{"b": [false]}"#, false),
            ("null", r#"{"z": [null]}"#, true),
            ("null on a value", r#"{"s": [null]}"#, false),
            ("null on a missing field", r#"{"missing": [null]}"#, false),
            ("empty string", r#"{"e": [""]}"#, true),
            ("empty string on a value", r#"{"s": [""]}"#, false),
            ("empty string on null", r#"{"z": [""]}"#, false),
            ("array element", r#"{"arr": ["b"]}"#, true),
            ("array no element", r#"{"arr": ["c"]}"#, false),
            ("object is not a leaf", r#"{"obj": ["y"]}"#, false),
            ("missing field", r#"{"missing": ["x"]}"#, false),
            // equals-ignore-case
            (
                "equals-ignore-case",
                r#"{"s": [{"equals-ignore-case": "hello WORLD"}]}"#,
                true,
            ),
            (
                "equals-ignore-case other",
                r#"{"s": [{"equals-ignore-case": "hello"}]}"#,
                false,
            ),
            (
                "equals-ignore-case on a number",
                r#"{"n": [{"equals-ignore-case": "5"}]}"#,
                false,
            ),
            // prefix / suffix
            ("prefix", r#"{"s": [{"prefix": "Hello"}]}"#, true),
            (
                "prefix is case-sensitive",
                r#"{"s": [{"prefix": "hello"}]}"#,
                false,
            ),
            (
                "prefix empty matches any string",
                r#"{"s": [{"prefix": ""}]}"#,
                true,
            ),
            ("prefix on a number", r#"{"n": [{"prefix": "5"}]}"#, false),
            (
                "prefix ignore case",
                r#"{"s": [{"prefix": {"equals-ignore-case": "hELLO"}}]}"#,
                true,
            ),
            (
                "prefix ignore case other",
                r#"{"s": [{"prefix": {"equals-ignore-case": "world"}}]}"#,
                false,
            ),
            ("suffix", r#"{"s": [{"suffix": "World"}]}"#, true),
            ("suffix other", r#"{"s": [{"suffix": "Hello"}]}"#, false),
            (
                "suffix ignore case",
                r#"{"s": [{"suffix": {"equals-ignore-case": "WORLD"}}]}"#,
                true,
            ),
            (
                "suffix on array element",
                r#"{"arr": [{"suffix": "b"}]}"#,
                true,
            ),
            // anything-but
            (
                "anything-but scalar string",
                r#"{"s": [{"anything-but": "x"}]}"#,
                true,
            ),
            (
                "anything-but scalar string excluded",
                r#"{"s": [{"anything-but": "Hello World"}]}"#,
                false,
            ),
            (
                "anything-but string list",
                r#"{"s": [{"anything-but": ["a", "b"]}]}"#,
                true,
            ),
            (
                "anything-but string list excluded",
                r#"{"s": [{"anything-but": ["a", "Hello World"]}]}"#,
                false,
            ),
            (
                "anything-but scalar number",
                r#"{"n": [{"anything-but": 6}]}"#,
                true,
            ),
            (
                "anything-but scalar number excluded",
                r#"{"n": [{"anything-but": 5}]}"#,
                false,
            ),
            (
                "anything-but number list excluded numerically",
                r#"{"f": [{"anything-but": [100, 300]}]}"#,
                false,
            ),
            (
                "anything-but number list",
                r#"{"f": [{"anything-but": [100, 200]}]}"#,
                true,
            ),
            (
                "anything-but string list on a number",
                r#"{"n": [{"anything-but": ["5"]}]}"#,
                true,
            ),
            (
                "anything-but on a missing field",
                r#"{"missing": [{"anything-but": "x"}]}"#,
                false,
            ),
            (
                "anything-but array: some element allowed",
                r#"{"arr": [{"anything-but": ["a"]}]}"#,
                true,
            ),
            (
                "anything-but array: every element excluded",
                r#"{"arr": [{"anything-but": ["a", "b"]}]}"#,
                false,
            ),
            (
                "anything-but prefix",
                r#"{"s": [{"anything-but": {"prefix": "World"}}]}"#,
                true,
            ),
            (
                "anything-but prefix excluded",
                r#"{"s": [{"anything-but": {"prefix": "Hello"}}]}"#,
                false,
            ),
            (
                "anything-but suffix",
                r#"{"s": [{"anything-but": {"suffix": "Hello"}}]}"#,
                true,
            ),
            (
                "anything-but suffix excluded",
                r#"{"s": [{"anything-but": {"suffix": "World"}}]}"#,
                false,
            ),
            (
                "anything-but ignore case",
                r#"{"s": [{"anything-but": {"equals-ignore-case": "x"}}]}"#,
                true,
            ),
            (
                "anything-but ignore case excluded",
                r#"{"s": [{"anything-but": {"equals-ignore-case": "HELLO world"}}]}"#,
                false,
            ),
            (
                "anything-but ignore case list excluded",
                r#"{"s": [{"anything-but": {"equals-ignore-case": ["a", "hello world"]}}]}"#,
                false,
            ),
            // numeric
            ("numeric =", r#"{"n": [{"numeric": ["=", 5]}]}"#, true),
            (
                "numeric = other",
                r#"{"n": [{"numeric": ["=", 6]}]}"#,
                false,
            ),
            (
                "numeric = float vs int",
                r#"{"f": [{"numeric": ["=", 300]}]}"#,
                true,
            ),
            ("numeric >", r#"{"n": [{"numeric": [">", 4]}]}"#, true),
            (
                "numeric > boundary",
                r#"{"n": [{"numeric": [">", 5]}]}"#,
                false,
            ),
            (
                "numeric >= boundary",
                r#"{"n": [{"numeric": [">=", 5]}]}"#,
                true,
            ),
            ("numeric <", r#"{"n": [{"numeric": ["<", 6]}]}"#, true),
            (
                "numeric < boundary",
                r#"{"n": [{"numeric": ["<", 5]}]}"#,
                false,
            ),
            (
                "numeric <= boundary",
                r#"{"n": [{"numeric": ["<=", 5]}]}"#,
                true,
            ),
            (
                "numeric range",
                r#"{"n": [{"numeric": [">", 0, "<=", 5]}]}"#,
                true,
            ),
            (
                "numeric range open top",
                r#"{"n": [{"numeric": [">", 0, "<", 5]}]}"#,
                false,
            ),
            (
                "numeric range below",
                r#"{"neg": [{"numeric": [">=", 0, "<", 10]}]}"#,
                false,
            ),
            (
                "numeric negative",
                r#"{"neg": [{"numeric": ["<", -2.5]}]}"#,
                true,
            ),
            (
                "numeric large",
                r#"{"big": [{"numeric": [">", 3000000000]}]}"#,
                true,
            ),
            (
                "numeric on a string",
                r#"{"s": [{"numeric": [">", 0]}]}"#,
                false,
            ),
            (
                "numeric on an array element",
                r#"{"nums": [{"numeric": [">", 10]}]}"#,
                true,
            ),
            (
                "numeric on no array element",
                r#"{"nums": [{"numeric": [">", 30]}]}"#,
                false,
            ),
            (
                "numeric on a missing field",
                r#"{"missing": [{"numeric": [">", 0]}]}"#,
                false,
            ),
            // exists
            ("exists true", r#"{"s": [{"exists": true}]}"#, true),
            (
                "exists true missing",
                r#"{"missing": [{"exists": true}]}"#,
                false,
            ),
            ("exists true on null", r#"{"z": [{"exists": true}]}"#, true),
            (
                "exists true on an object",
                r#"{"obj": [{"exists": true}]}"#,
                false,
            ),
            (
                "exists true on an empty array",
                r#"{"empty": [{"exists": true}]}"#,
                false,
            ),
            (
                "exists false missing",
                r#"{"missing": [{"exists": false}]}"#,
                true,
            ),
            (
                "exists false present",
                r#"{"s": [{"exists": false}]}"#,
                false,
            ),
            (
                "exists false on an object",
                r#"{"obj": [{"exists": false}]}"#,
                true,
            ),
            (
                "exists false on an empty array",
                r#"{"empty": [{"exists": false}]}"#,
                true,
            ),
            (
                "exists false under a missing parent",
                r#"{"nope": {"leaf": [{"exists": false}]}}"#,
                true,
            ),
            (
                "exists true under a missing parent",
                r#"{"nope": {"leaf": [{"exists": true}]}}"#,
                false,
            ),
            (
                "exists false OR value",
                r#"{"s": ["x", {"exists": false}]}"#,
                false,
            ),
            (
                "value OR exists false",
                r#"{"missing": ["x", {"exists": false}]}"#,
                true,
            ),
            // nesting and AND
            ("nested", r#"{"nested": {"deeper": {"leaf": ["v"]}}}"#, true),
            (
                "nested other",
                r#"{"nested": {"deeper": {"leaf": ["w"]}}}"#,
                false,
            ),
            ("nested under a scalar", r#"{"s": {"x": ["y"]}}"#, false),
            ("AND both", r#"{"s": ["Hello World"], "n": [5]}"#, true),
            (
                "AND one fails",
                r#"{"s": ["Hello World"], "n": [6]}"#,
                false,
            ),
            ("array of objects", r#"{"objs": {"k": ["b"]}}"#, true),
            ("array of objects none", r#"{"objs": {"k": ["c"]}}"#, false),
            // $or
            (
                "$or first branch",
                r#"{"$or": [{"s": ["Hello World"]}, {"n": [6]}]}"#,
                true,
            ),
            (
                "$or second branch",
                r#"{"$or": [{"s": ["x"]}, {"n": [5]}]}"#,
                true,
            ),
            (
                "$or no branch",
                r#"{"$or": [{"s": ["x"]}, {"n": [6]}]}"#,
                false,
            ),
            (
                "$or AND field",
                r#"{"b": [true], "$or": [{"s": ["x"]}, {"n": [5]}]}"#,
                true,
            ),
            (
                "$or AND failing field",
                r#"{"b": [false], "$or": [{"s": ["x"]}, {"n": [5]}]}"#,
                false,
            ),
            (
                "$or nested level",
                r#"{"nested": {"$or": [{"deeper": {"leaf": ["v"]}}, {"other": ["x"]}]}}"#,
                true,
            ),
            (
                "$or nested level none",
                r#"{"nested": {"$or": [{"deeper": {"leaf": ["w"]}}, {"other": ["x"]}]}}"#,
                false,
            ),
            (
                "$or inside $or",
                r#"{"$or": [{"s": ["x"]}, {"$or": [{"n": [6]}, {"b": [true]}]}]}"#,
                true,
            ),
            (
                "two $or groups AND-ed",
                r#"{"$or": [{"s": ["x"]}, {"n": [5]}], "nested": {"$or": [{"deeper": {"leaf": ["w"]}}, {"e": [""]}]}}"#,
                false,
            ),
            // duplicate keys: the last occurrence wins
            (
                "duplicate key, last wins",
                r#"{"s": ["x"], "s": ["Hello World"]}"#,
                true,
            ),
            (
                "duplicate key, first ignored",
                r#"{"s": ["Hello World"], "s": ["x"]}"#,
                false,
            ),
        ];
        run(cases
            .into_iter()
            .map(|(name, p, expected)| (name, vec![p], rec.clone(), expected))
            .collect());
    }

    #[test]
    fn filters_are_ored_and_none_means_everything() {
        let rec = insert(json!({"id": {"S": "a"}}));
        run(vec![
            (
                "second filter matches",
                vec![
                    r#"{"eventName": ["REMOVE"]}"#,
                    r#"{"eventName": ["INSERT"]}"#,
                ],
                rec.clone(),
                true,
            ),
            (
                "no filter matches",
                vec![
                    r#"{"eventName": ["REMOVE"]}"#,
                    r#"{"eventName": ["MODIFY"]}"#,
                ],
                rec.clone(),
                false,
            ),
            ("no filters", vec![], rec.clone(), true),
        ]);
        assert!(FilterSet::from_criteria(None).unwrap().matches(&rec));
        let stored = json!({"Filters": [{"Pattern": r#"{"eventName": ["REMOVE"]}"#}]});
        let from_stored = FilterSet::from_criteria(Some(&stored)).unwrap();
        assert_eq!(from_stored.len(), 1);
        assert!(!from_stored.matches(&rec));
    }

    /// Patterns the control plane must refuse with `Invalid filter pattern definition.`, each
    /// with the reason we expect (so a case cannot pass by failing for another reason).
    #[test]
    fn invalid_patterns() {
        let cases: Vec<(&str, &str)> = vec![
            // [aws-rec] test_dynamodb_invalid_event_filter
            ("single-string", "not valid JSON"),
            (r#"[{"eventName": ["INSERT"=123}]"#, "not valid JSON"),
            ("", "not valid JSON"),
            (r#"{"a": ["x"]"#, "not valid JSON"),
            (r#"[{"eventName": ["INSERT"]}]"#, "not a JSON object"),
            (r#""text""#, "not a JSON object"),
            ("{}", "empty objects"),
            (r#"{"a": {}}"#, "empty objects"),
            (r#"{"a": "x"}"#, "must be an object or an array"),
            (r#"{"a": 5}"#, "must be an object or an array"),
            (r#"{"a": null}"#, "must be an object or an array"),
            (r#"{"a": true}"#, "must be an object or an array"),
            (r#"{"a": []}"#, "empty arrays"),
            (r#"{"a": [["x"]]}"#, "match values"),
            (r#"{"a": [{}]}"#, "no operator"),
            (
                r#"{"a": [{"prefix": "x", "suffix": "y"}]}"#,
                "more than one key",
            ),
            (
                r#"{"a": [{"wildcard": "x*"}]}"#,
                "unsupported operator wildcard",
            ),
            (
                r#"{"a": [{"cidr": "10.0.0.0/8"}]}"#,
                "unsupported operator cidr",
            ),
            (
                r#"{"a": [{"exactly": "x"}]}"#,
                "unsupported operator exactly",
            ),
            (
                r#"{"a": [{"contains": "x"}]}"#,
                "unsupported operator contains",
            ),
            (
                r#"{"a": [{"equals-ignore-case": ["x"]}]}"#,
                "equals-ignore-case needs a string",
            ),
            (
                r#"{"a": [{"equals-ignore-case": 5}]}"#,
                "equals-ignore-case needs a string",
            ),
            (r#"{"a": [{"prefix": 5}]}"#, "prefix needs a string"),
            (r#"{"a": [{"prefix": null}]}"#, "prefix needs a string"),
            (
                r#"{"a": [{"prefix": {"equals-ignore-case": 5}}]}"#,
                "prefix needs a string or",
            ),
            (
                r#"{"a": [{"prefix": {"suffix": "x"}}]}"#,
                "prefix needs a string or",
            ),
            (r#"{"a": [{"suffix": ["x"]}]}"#, "suffix needs a string"),
            (
                r#"{"a": [{"exists": "true"}]}"#,
                "exists needs true or false",
            ),
            (r#"{"a": [{"exists": 1}]}"#, "exists needs true or false"),
            (r#"{"a": [{"anything-but": []}]}"#, "non-empty list"),
            (r#"{"a": [{"anything-but": ["x", 1]}]}"#, "non-empty list"),
            (r#"{"a": [{"anything-but": [null]}]}"#, "non-empty list"),
            (r#"{"a": [{"anything-but": [true]}]}"#, "non-empty list"),
            (r#"{"a": [{"anything-but": null}]}"#, "anything-but needs"),
            (r#"{"a": [{"anything-but": false}]}"#, "anything-but needs"),
            (
                r#"{"a": [{"anything-but": {"prefix": ""}}]}"#,
                "unsupported anything-but argument prefix",
            ),
            (
                r#"{"a": [{"anything-but": {"suffix": 5}}]}"#,
                "unsupported anything-but argument suffix",
            ),
            (
                r#"{"a": [{"anything-but": {"wildcard": "x*"}}]}"#,
                "unsupported anything-but argument wildcard",
            ),
            (
                r#"{"a": [{"anything-but": {"equals-ignore-case": 5}}]}"#,
                "unsupported anything-but argument equals-ignore-case",
            ),
            (
                r#"{"a": [{"anything-but": {"equals-ignore-case": [1]}}]}"#,
                "unsupported anything-but argument equals-ignore-case",
            ),
            (
                r#"{"a": [{"anything-but": {"prefix": "x", "suffix": "y"}}]}"#,
                "more than one key",
            ),
            (r#"{"a": [{"numeric": 5}]}"#, "numeric needs an array"),
            (r#"{"a": [{"numeric": []}]}"#, "invalid numeric expression"),
            (
                r#"{"a": [{"numeric": ["="]}]}"#,
                "invalid numeric expression",
            ),
            (r#"{"a": [{"numeric": ["=", "5"]}]}"#, "must be a number"),
            (
                r#"{"a": [{"numeric": ["==", 5]}]}"#,
                "invalid numeric expression",
            ),
            (
                r#"{"a": [{"numeric": ["!=", 5]}]}"#,
                "invalid numeric expression",
            ),
            (
                r#"{"a": [{"numeric": [5, ">"]}]}"#,
                "invalid numeric expression",
            ),
            (
                r#"{"a": [{"numeric": ["=", 5, "<", 6]}]}"#,
                "invalid numeric expression",
            ),
            (
                r#"{"a": [{"numeric": ["<", 5, ">", 1]}]}"#,
                "invalid numeric expression",
            ),
            (
                r#"{"a": [{"numeric": [">", 5, ">", 10]}]}"#,
                "lower bound then an upper bound",
            ),
            (
                r#"{"a": [{"numeric": [">", 10, "<", 5]}]}"#,
                "bottom of a numeric range",
            ),
            (
                r#"{"a": [{"numeric": [">=", 5, "<=", 5]}]}"#,
                "bottom of a numeric range",
            ),
            (
                r#"{"a": [{"numeric": [">", 5, "<"]}]}"#,
                "invalid numeric expression",
            ),
            (
                r#"{"a": [{"numeric": [">", 5, "<", 6, 7]}]}"#,
                "invalid numeric expression",
            ),
            (
                r#"{"a": [{"numeric": [">", 5, "<", "6"]}]}"#,
                "must be a number",
            ),
            (r#"{"$or": [{"a": ["x"]}]}"#, "at least 2"),
            (r#"{"$or": []}"#, "at least 2"),
            (r#"{"$or": {"a": ["x"]}}"#, "followed by an array"),
            (r#"{"$or": ["x", "y"]}"#, "only objects"),
            (r#"{"$or": [{"a": ["x"]}, {}]}"#, "empty objects"),
            (
                r#"{"$or": [{"a": ["x"]}, {"numeric": [">", 1]}]}"#,
                "reserved",
            ),
            (
                r#"{"$or": [{"a": ["x"]}, {"b": {"prefix": ["y"]}}]}"#,
                "reserved",
            ),
            (
                r#"{"dynamodb": {"NewImage": {"k": {"S": []}}}}"#,
                "empty arrays",
            ),
        ];
        let mut failures = Vec::new();
        for (pattern, reason) in cases {
            match FilterSet::compile(&[pattern.to_owned()]) {
                Err(FilterError::InvalidPattern { reason: got }) if got.contains(reason) => {}
                other => failures.push(format!("{pattern}: expected `{reason}`, got {other:?}")),
            }
        }
        assert!(
            failures.is_empty(),
            "failing cases:\n{}",
            failures.join("\n")
        );
    }

    /// Patterns AWS accepts (each compiles).
    #[test]
    fn valid_patterns() {
        let patterns = [
            r#"{"a": ["x"]}"#,
            r#"{"a": [1, "x", true, null, ""]}"#,
            r#"{"a": [{"numeric": ["=", 100]}]}"#,
            r#"{"a": [{"numeric": [">=", -1.5, "<", 2e3]}]}"#,
            r#"{"a": [{"numeric": ["<=", 0]}]}"#,
            r#"{"a": [{"anything-but": 101}]}"#,
            r#"{"a": [{"anything-but": [1, 2.5]}]}"#,
            r#"{"a": [{"anything-but": {"equals-ignore-case": ["x", "Y"]}}]}"#,
            r#"{"a": [{"prefix": ""}]}"#,
            r#"{"a": [{"suffix": {"equals-ignore-case": ".PNG"}}]}"#,
            r#"{"numeric": ["x"], "prefix": {"exists": [{"exists": true}]}}"#,
            r#"{"$or": [{"a": ["x"]}, {"b": ["y"]}, {"c": {"d": [{"exists": false}]}}]}"#,
            r#"{"a": ["x"], "a": ["y"]}"#,
            "  {\n \"eventName\" : [ \"INSERT\" ] }\n",
        ];
        for p in patterns {
            assert!(
                FilterSet::compile(&[p.to_owned()]).is_ok(),
                "{p} should compile"
            );
        }
    }

    #[test]
    fn filter_count_limit() {
        let one = r#"{"eventName": ["INSERT"]}"#.to_owned();
        assert_eq!(FilterSet::compile(&vec![one.clone(); 5]).unwrap().len(), 5);
        let err = FilterSet::compile(&vec![one.clone(); 6]).unwrap_err();
        assert_eq!(err, FilterError::TooManyFilters { count: 6 });
        assert_eq!(err.code(), "InvalidParameterValueException");
        assert_eq!(err.http_status(), 400);
        assert_eq!(
            err.to_string(),
            "The maximum number of filters for this event source mapping is 5."
        );
        // The count is checked before the syntax of each pattern.
        let mut mixed = vec![one; 5];
        mixed.push("not json".to_owned());
        assert!(matches!(
            FilterSet::compile(&mixed),
            Err(FilterError::TooManyFilters { count: 6 })
        ));
    }

    #[test]
    fn pattern_length_limit() {
        // A valid pattern of exactly the limit: {"a": ["xx…x"]}.
        let pad = MAX_PATTERN_LENGTH - r#"{"a":[""]}"#.len();
        let at_limit = format!(r#"{{"a":["{}"]}}"#, "x".repeat(pad));
        assert_eq!(at_limit.len(), MAX_PATTERN_LENGTH);
        assert!(FilterSet::compile(&[at_limit]).is_ok());

        let over = format!(r#"{{"a":["{}"]}}"#, "x".repeat(pad + 1));
        let err = FilterSet::compile(&[r#"{"a":["y"]}"#.to_owned(), over.clone()]).unwrap_err();
        assert_eq!(err.code(), "ValidationException");
        assert_eq!(
            err.to_string(),
            format!(
                "1 validation error detected: Value '{over}' at \
                 'filterCriteria.filters.2.member.pattern' failed to satisfy constraint: Member \
                 must have length less than or equal to 4096"
            )
        );

        let two = FilterSet::compile(&[over.clone(), over]).unwrap_err();
        assert!(two
            .to_string()
            .starts_with("2 validation errors detected: Value '"));
        assert!(two.to_string().contains("filters.1.member.pattern"));
        assert!(two.to_string().contains("; Value '"));

        // Length counts UTF-16 units as the model does: 4096 'é' fit, not 4097 of them.
        let pad_utf16 = MAX_PATTERN_LENGTH - r#"{"a":[""]}"#.len();
        let accented = format!(r#"{{"a":["{}"]}}"#, "é".repeat(pad_utf16));
        assert!(accented.len() > MAX_PATTERN_LENGTH);
        assert!(FilterSet::compile(&[accented]).is_ok());
    }

    #[test]
    fn validate_filter_criteria_answers() {
        let ok = |v: Value| validate_filter_criteria(&v);
        // §1.2: an empty list is accepted (then omitted); `{}` clears on Update.
        assert_eq!(ok(json!({"Filters": []})), Ok(vec![]));
        assert_eq!(ok(json!({})), Ok(vec![]));
        assert_eq!(ok(json!({"Filters": null})), Ok(vec![]));
        assert_eq!(
            ok(json!({"Filters": [{"Pattern": r#"{"eventName": ["INSERT"]}"#}]})),
            Ok(vec![r#"{"eventName": ["INSERT"]}"#.to_owned()])
        );

        let invalid = |v: Value| {
            let err = validate_filter_criteria(&v).unwrap_err();
            assert!(
                matches!(err, FilterError::InvalidPattern { .. }),
                "{v}: {err:?}"
            );
            assert_eq!(err.code(), "InvalidParameterValueException");
            assert_eq!(err.http_status(), 400);
            assert_eq!(err.to_string(), "Invalid filter pattern definition.");
        };
        invalid(json!({"Filters": [{"Pattern": "single-string"}]}));
        invalid(json!({"Filters": [{"Pattern": r#"[{"eventName": ["INSERT"=123}]"#}]}));
        invalid(json!({"Filters": [{"Pattern": ""}]}));
        invalid(json!({"Filters": [{}]}));
        invalid(json!({"Filters": [{"Pattern": 5}]}));
        invalid(json!({"Filters": [{"Pattern": r#"{"a": ["x"]}"#}, {"Pattern": "{}"}]}));
        invalid(json!({"Filters": "x"}));
        invalid(json!("x"));

        let six = json!({"Filters": vec![json!({"Pattern": r#"{"a": ["x"]}"#}); 6]});
        assert_eq!(
            validate_filter_criteria(&six),
            Err(FilterError::TooManyFilters { count: 6 })
        );
    }

    fn on_small_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|s| {
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn_scoped(s, f)
                .expect("spawn a test thread")
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e))
        })
    }

    /// `{"a": {"a": ... {"a": ["x"]}}}`, `depth` objects deep.
    fn nested_pattern(depth: usize) -> String {
        format!("{}[\"x\"]{}", r#"{"a": "#.repeat(depth), "}".repeat(depth))
    }

    /// `{"$or": [{"b": ["y"]}, {"$or": [...]}]}`, `depth` objects deep.
    fn nested_or(depth: usize) -> String {
        let mut p = r#"{"a": ["x"]}"#.to_owned();
        for _ in 1..depth {
            p = format!(r#"{{"$or": [{{"b": ["y"]}}, {p}]}}"#);
        }
        p
    }

    #[test]
    fn pattern_nesting_is_bounded() {
        // Compiling and matching, on a small stack, from patterns already read as JSON.
        let deepest: Vec<Value> = [nested_pattern(MAX_PATTERN_DEPTH), nested_or(60)]
            .iter()
            .map(|p| serde_json::from_str(p).unwrap())
            .collect();
        let too_deep: Value = serde_json::from_str(&nested_pattern(MAX_PATTERN_DEPTH + 1)).unwrap();
        let deep_record = json!({"a": serde_json::from_str::<Value>(
            &nested_pattern(MAX_PATTERN_DEPTH - 1)).unwrap()});
        on_small_stack(move || {
            let record = insert(json!({"k": {"S": "1"}}));
            // Each `$or` level takes two JSON levels, so serde_json's 128 caps that shape first.
            for pattern in &deepest {
                let set = FilterSet {
                    patterns: vec![pattern_of(pattern).unwrap()],
                };
                assert!(!set.matches(&record), "{pattern}");
                assert_eq!(set.matches(&deep_record), pattern == &deepest[0]);
            }
            let reason = pattern_of(&too_deep).unwrap_err();
            assert!(reason.contains("nest more than"), "{reason}");
        });

        // The whole path, text included. serde_json's own recursion (up to its 128 levels) needs
        // more than 256 KiB in a debug build, so this runs on 1 MiB; the server's worker
        // threads have 2 MiB.
        std::thread::Builder::new()
            .stack_size(1024 * 1024)
            .spawn(|| {
                let refused = |pattern: String, reason: &str| {
                    let criteria = json!({"Filters": [{"Pattern": pattern}]});
                    let err = validate_filter_criteria(&criteria).unwrap_err();
                    assert_eq!(err.code(), "InvalidParameterValueException");
                    assert_eq!(err.to_string(), "Invalid filter pattern definition.");
                    match err {
                        FilterError::InvalidPattern { reason: got } => {
                            assert!(got.contains(reason), "{got}")
                        }
                        other => panic!("{other:?}"),
                    }
                };
                assert!(FilterSet::compile(&[nested_pattern(MAX_PATTERN_DEPTH)]).is_ok());
                refused(nested_pattern(MAX_PATTERN_DEPTH + 1), "nest more than");
                refused(nested_or(MAX_PATTERN_DEPTH), "recursion limit exceeded");
                // Deeper JSON is refused by serde_json's own limit, within 4096 characters.
                refused(nested_pattern(500), "recursion limit exceeded");
                refused(format!("{}1", "[".repeat(4000)), "recursion limit exceeded");
                // Past 4096 characters the model constraint answers first.
                let err = FilterSet::compile(&[nested_pattern(100_000)]).unwrap_err();
                assert_eq!(err.code(), "ValidationException");
            })
            .expect("spawn a test thread")
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
    }
}
