//! The intrinsic functions and condition functions, evaluated over template values.
//!
//! One evaluator serves three uses, its [`Mode`]:
//! - `Conditions`: the `Conditions` block, where no resource may be referenced;
//! - `Partial`: planning and diffing, before anything exists. Everything that does not need
//!   a resource is resolved (parameters, pseudo parameters, mappings, `Fn::If`); what does
//!   stays an intrinsic with resolved arguments, and every resource referenced is recorded
//!   as a dependency. Only the branch `Fn::If` takes counts.
//! - `Full`: just before a resource is created (or an output shown); a [`Resolver`] answers
//!   for the resources already created.
//! - `Static`: `ValidateTemplate`, without parameter values: parameters stay symbolic and
//!   both branches of every `Fn::If` count.
//!
//! `AWS::NoValue` evaluates to nothing: the key holding it disappears from its object, the
//! element from its list.

use std::cell::RefCell;
use std::net::{Ipv4Addr, Ipv6Addr};

use base64::Engine;
use indexmap::IndexMap;
use serde_json::{json, Map, Value};

use crate::context::{Context, Resolver};
use crate::error::{Result, TemplateError};
use crate::template::Template;

/// CloudFormation's list, as its "unsupported function" error names it.
const SUPPORTED: &str = "[Fn::Base64, Fn::GetAtt, Fn::GetAZs, Fn::ImportValue, Fn::Join, Fn::Split, Fn::FindInMap, Fn::Select, Ref, Fn::Equals, Fn::If, Fn::Not, Condition, Fn::And, Fn::Or, Fn::Contains, Fn::EachMemberEquals, Fn::EachMemberIn, Fn::ValueOf, Fn::ValueOfAll, Fn::RefAll, Fn::Sub, Fn::Cidr]";

const JOIN_ERROR: &str = "every Fn::Join object requires two parameters, (1) a string delimiter and (2) a list of strings to be joined or a function that returns a list of strings (such as Fn::GetAZs) to be joined.";
const SPLIT_ERROR: &str = "every Fn::Split object requires two parameters, (1) a string delimiter and (2) a string to be split or a function that returns a string to be split.";
const SELECT_ERROR: &str = "every Fn::Select object requires two parameters, (1) an index and (2) a list of values or a function that returns a list of values.";
const FIND_IN_MAP_ERROR: &str = "every Fn::FindInMap object requires three parameters, the map name, map key and the attribute for return value";
const GET_ATT_ERROR: &str = "every Fn::GetAtt object requires two non-empty parameters, (1) the resource name and (2) the resource attribute.";
const IF_ERROR: &str = "every Fn::If object requires three parameters, (1) a condition name, (2) a value if the condition is true and (3) a value if the condition is false.";
const EQUALS_ERROR: &str = "every Fn::Equals object requires a list of 2 string parameters.";
const SUB_VAR_ERROR: &str = "variable names in Fn::Sub syntax must contain only alphanumeric characters, underscores, periods, and colons";
const CIDR_ERROR: &str = "every Fn::Cidr object requires three parameters, (1) an IP address block in CIDR notation, (2) the number of subnets to generate (1 to 256) and (3) the number of subnet bits.";

/// How far the evaluator may go (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Conditions,
    Partial,
    Full,
    Static,
}

/// Whether an object is an intrinsic function call: one key, `Ref` or `Fn::...` (and
/// `Condition` with a name, where conditions are evaluated).
pub(crate) fn intrinsic_call(
    m: &Map<String, Value>,
    conditions_allowed: bool,
) -> Option<(&str, &Value)> {
    if m.len() != 1 {
        return None;
    }
    let (k, v) = m.iter().next()?;
    if k == "Ref"
        || k.starts_with("Fn::")
        || (conditions_allowed && k == "Condition" && v.is_string())
    {
        Some((k.as_str(), v))
    } else {
        None
    }
}

/// Whether a value contains no intrinsic function.
pub(crate) fn is_concrete(v: &Value) -> bool {
    match v {
        Value::Object(m) => intrinsic_call(m, false).is_none() && m.values().all(is_concrete),
        Value::Array(a) => a.iter().all(is_concrete),
        _ => true,
    }
}

/// A scalar as the string CloudFormation makes of it.
pub(crate) fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// One piece of an `Fn::Sub` string.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SubPart {
    Literal(String),
    Var(String),
}

/// Splits an `Fn::Sub` string into literals and `${Var}` references; `${!Literal}` is the
/// literal `${Literal}`, a `${` without its `}` is literal text.
pub(crate) fn parse_sub(s: &str) -> Result<Vec<SubPart>> {
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        lit.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        if let Some(stripped) = after.strip_prefix('!') {
            lit.push_str("${");
            rest = stripped;
            continue;
        }
        let Some(j) = after.find('}') else {
            lit.push_str(&rest[i..]);
            rest = "";
            break;
        };
        let name = after[..j].trim();
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':'))
        {
            return Err(TemplateError::intrinsic(SUB_VAR_ERROR));
        }
        if !lit.is_empty() {
            parts.push(SubPart::Literal(std::mem::take(&mut lit)));
        }
        parts.push(SubPart::Var(name.to_owned()));
        rest = &after[j + 1..];
    }
    lit.push_str(rest);
    if !lit.is_empty() {
        parts.push(SubPart::Literal(lit));
    }
    Ok(parts)
}

/// The evaluator. Dependencies found (in `Partial` mode) and unresolved names are recorded
/// as it goes.
pub(crate) struct Eval<'a> {
    pub template: &'a Template,
    pub ctx: &'a Context<'a>,
    pub conditions: &'a IndexMap<String, bool>,
    pub resolver: &'a dyn Resolver,
    pub mode: Mode,
    /// Resources referenced, in the order met (duplicates possible).
    pub deps: RefCell<Vec<String>>,
    /// Names referenced that are neither parameters, pseudo parameters nor resources that
    /// exist (`Partial` mode collects them; the others fail at once).
    pub unresolved: RefCell<Vec<String>>,
    /// The block named in "Unresolved resource dependencies" errors.
    pub block: &'static str,
}

impl<'a> Eval<'a> {
    pub(crate) fn new(
        template: &'a Template,
        ctx: &'a Context<'a>,
        conditions: &'a IndexMap<String, bool>,
        resolver: &'a dyn Resolver,
        mode: Mode,
    ) -> Self {
        Self {
            template,
            ctx,
            conditions,
            resolver,
            mode,
            deps: RefCell::new(Vec::new()),
            unresolved: RefCell::new(Vec::new()),
            block: "Resources",
        }
    }

    /// Evaluates a value; `None` is `AWS::NoValue`.
    pub(crate) fn eval(&self, v: &Value) -> Result<Option<Value>> {
        match v {
            Value::Object(m) => {
                if let Some((name, arg)) = intrinsic_call(m, self.mode == Mode::Conditions) {
                    return self.call(name, arg);
                }
                let mut out = Map::new();
                for (k, v) in m {
                    if let Some(r) = self.eval(v)? {
                        out.insert(k.clone(), r);
                    }
                }
                Ok(Some(Value::Object(out)))
            }
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    if let Some(r) = self.eval(item)? {
                        out.push(r);
                    }
                }
                Ok(Some(Value::Array(out)))
            }
            other => Ok(Some(other.clone())),
        }
    }

    /// Evaluates an argument; `AWS::NoValue` there is null (and fails the function's check).
    fn arg(&self, v: &Value) -> Result<Value> {
        Ok(self.eval(v)?.unwrap_or(Value::Null))
    }

    /// Whether what cannot be resolved yet may stay symbolic.
    fn partial(&self) -> bool {
        matches!(self.mode, Mode::Partial | Mode::Static)
    }

    fn call(&self, name: &str, arg: &Value) -> Result<Option<Value>> {
        match name {
            "Ref" => self.ref_(arg),
            "Condition" => Ok(Some(match self.condition(arg)? {
                Some(b) => Value::Bool(b),
                None => json!({ "Condition": arg }),
            })),
            "Fn::GetAtt" => self.get_att(arg).map(Some),
            "Fn::Sub" => self.sub(arg).map(Some),
            "Fn::Join" => self.join(arg).map(Some),
            "Fn::Select" => self.select(arg),
            "Fn::Split" => self.split(arg).map(Some),
            "Fn::If" => self.if_(arg),
            "Fn::Equals" => self.equals(arg).map(Some),
            "Fn::And" => self.and_or(arg, "Fn::And").map(Some),
            "Fn::Or" => self.and_or(arg, "Fn::Or").map(Some),
            "Fn::Not" => self.not(arg).map(Some),
            "Fn::FindInMap" => self.find_in_map(arg).map(Some),
            "Fn::GetAZs" => self.get_azs(arg).map(Some),
            "Fn::Base64" => self.base64(arg).map(Some),
            "Fn::Cidr" => self.cidr(arg).map(Some),
            "Fn::ImportValue" => self.import_value(arg).map(Some),
            other => Err(TemplateError::format(format!(
                "Encountered unsupported function: {other} Supported functions are: {SUPPORTED}"
            ))),
        }
    }

    /// Whether a resource is in the template and its condition (if any) holds.
    fn resource_active(&self, id: &str) -> bool {
        if self.mode == Mode::Static {
            return self.template.resources.contains_key(id);
        }
        match self.template.resources.get(id) {
            None => false,
            Some(r) => match &r.condition {
                None => true,
                Some(c) => self.conditions.get(c).copied().unwrap_or(false),
            },
        }
    }

    /// A name no parameter, pseudo parameter or live resource answers to.
    fn unresolved(&self, name: &str, symbolic: Value) -> Result<Value> {
        if self.mode == Mode::Conditions && self.template.resources.contains_key(name) {
            return Err(TemplateError::format(format!(
                "Unresolved dependencies [{name}]. Cannot reference resources in the Conditions block of the template"
            )));
        }
        if self.partial() {
            self.unresolved.borrow_mut().push(name.to_owned());
            return Ok(symbolic);
        }
        Err(TemplateError::unresolved(&[name.to_owned()], self.block))
    }

    /// `Ref` of a resource: its physical id from the resolver, or the call kept as it is.
    fn resource_ref(&self, id: &str) -> Result<Value> {
        let symbolic = json!({ "Ref": id });
        if !self.resource_active(id) {
            return self.unresolved(id, symbolic);
        }
        match self.mode {
            Mode::Conditions => self.unresolved(id, symbolic),
            Mode::Partial | Mode::Static => {
                self.deps.borrow_mut().push(id.to_owned());
                Ok(symbolic)
            }
            Mode::Full => self.resolver.ref_value(id).ok_or_else(|| {
                TemplateError::intrinsic(format!(
                    "Ref of resource {id}, which has not been created"
                ))
            }),
        }
    }

    fn ref_(&self, arg: &Value) -> Result<Option<Value>> {
        let Value::String(name) = arg else {
            return Err(TemplateError::intrinsic(
                "every Ref object must have a single String value.",
            ));
        };
        if name == "AWS::NoValue" {
            return Ok(None);
        }
        if let Some(v) = self.ctx.pseudo.get(name) {
            return Ok(Some(v));
        }
        if self.mode == Mode::Static && self.template.parameters.contains_key(name) {
            return Ok(Some(json!({ "Ref": name })));
        }
        if let Some(v) = self.ctx.params.get(name) {
            return Ok(Some(v.clone()));
        }
        if self.template.parameters.contains_key(name) {
            return Err(TemplateError::Parameter(format!(
                "Parameters: [{name}] must have values"
            )));
        }
        self.resource_ref(name).map(Some)
    }

    fn condition(&self, arg: &Value) -> Result<Option<bool>> {
        let name = arg.as_str().unwrap_or_default();
        if self.mode == Mode::Static {
            if self.template.conditions.contains_key(name) {
                return Ok(None);
            }
            return Err(TemplateError::format(format!(
                "Unresolved condition dependency {name} in Condition"
            )));
        }
        self.conditions.get(name).copied().map(Some).ok_or_else(|| {
            TemplateError::format(format!(
                "Unresolved condition dependency {name} in Condition"
            ))
        })
    }

    fn get_att(&self, arg: &Value) -> Result<Value> {
        let (id, attr) = match arg {
            Value::String(s) => match s.split_once('.') {
                Some((id, attr)) => (id.to_owned(), Value::String(attr.to_owned())),
                None => return Err(TemplateError::intrinsic(GET_ATT_ERROR)),
            },
            Value::Array(a) if a.len() == 2 => match &a[0] {
                Value::String(id) => (id.clone(), self.arg(&a[1])?),
                _ => return Err(TemplateError::intrinsic(GET_ATT_ERROR)),
            },
            _ => return Err(TemplateError::intrinsic(GET_ATT_ERROR)),
        };
        let symbolic_attr = attr.clone();
        let attr = match attr {
            Value::String(s) if !s.is_empty() => s,
            other if !is_concrete(&other) && self.partial() => {
                // An attribute named through a function of something not yet known.
                self.deps.borrow_mut().push(id.clone());
                return Ok(json!({ "Fn::GetAtt": [id, other] }));
            }
            _ => return Err(TemplateError::intrinsic(GET_ATT_ERROR)),
        };
        if id.is_empty() {
            return Err(TemplateError::intrinsic(GET_ATT_ERROR));
        }
        if !self.template.resources.contains_key(&id) {
            if self.mode == Mode::Conditions {
                return self.unresolved(&id, Value::Null);
            }
            return Err(TemplateError::intrinsic(format!(
                "instance of Fn::GetAtt references undefined resource {id}"
            )));
        }
        let symbolic = json!({ "Fn::GetAtt": [id, symbolic_attr] });
        if !self.resource_active(&id) {
            return self.unresolved(&id, symbolic);
        }
        match self.mode {
            Mode::Conditions => self.unresolved(&id, symbolic),
            Mode::Partial | Mode::Static => {
                self.deps.borrow_mut().push(id);
                Ok(symbolic)
            }
            Mode::Full => self.resolver.get_att(&id, &attr).ok_or_else(|| {
                TemplateError::intrinsic(format!(
                    "resource {id} does not support attribute type {attr} in Fn::GetAtt"
                ))
            }),
        }
    }

    /// The value of one `${Var}`: the variable map, a pseudo parameter, a parameter, a
    /// resource attribute (`Res.Attr`) or a resource.
    fn sub_var(&self, name: &str, vars: &Map<String, Value>) -> Result<Value> {
        if let Some(v) = vars.get(name) {
            return Ok(v.clone());
        }
        if let Some(v) = self.ctx.pseudo.get(name) {
            return Ok(v);
        }
        if name == "AWS::NoValue" {
            return Ok(Value::String(String::new()));
        }
        if self.mode == Mode::Static && self.template.parameters.contains_key(name) {
            return Ok(json!({ "Ref": name }));
        }
        if let Some(v) = self.ctx.params.get(name) {
            return Ok(v.clone());
        }
        if self.template.parameters.contains_key(name) {
            return Err(TemplateError::Parameter(format!(
                "Parameters: [{name}] must have values"
            )));
        }
        if let Some((id, attr)) = name.split_once('.') {
            if self.template.resources.contains_key(id) {
                return self.get_att(&json!([id, attr]));
            }
            return self.unresolved(id, json!({ "Fn::GetAtt": [id, attr] }));
        }
        self.resource_ref(name)
    }

    fn sub(&self, arg: &Value) -> Result<Value> {
        let (text, vars) = match arg {
            Value::String(s) => (s.as_str(), Map::new()),
            Value::Array(a) if a.len() == 2 => {
                let Value::String(s) = &a[0] else {
                    return Err(TemplateError::intrinsic(
                        "every Fn::Sub object requires a string or a list of a string and a map of variables",
                    ));
                };
                let Value::Object(raw) = &a[1] else {
                    return Err(TemplateError::intrinsic(
                        "every Fn::Sub object requires a string or a list of a string and a map of variables",
                    ));
                };
                let mut vars = Map::new();
                for (k, v) in raw {
                    vars.insert(k.clone(), self.arg(v)?);
                }
                (s.as_str(), vars)
            }
            _ => {
                return Err(TemplateError::intrinsic(
                    "every Fn::Sub object requires a string or a list of a string and a map of variables",
                ))
            }
        };
        let parts = parse_sub(text)?;
        let mut out = String::new();
        // In partial mode: the string rebuilt with what could be substituted, and the
        // variables that could not.
        let mut rebuilt = String::new();
        let mut kept = Map::new();
        let mut symbolic = false;
        for part in parts {
            match part {
                SubPart::Literal(l) => {
                    rebuilt.push_str(&l.replace("${", "${!"));
                    out.push_str(&l);
                }
                SubPart::Var(name) => {
                    let v = self.sub_var(&name, &vars)?;
                    if let Some(s) = scalar_string(&v) {
                        rebuilt.push_str(&s.replace("${", "${!"));
                        out.push_str(&s);
                    } else if !is_concrete(&v) && self.partial() {
                        symbolic = true;
                        rebuilt.push_str(&format!("${{{name}}}"));
                        if vars.contains_key(&name) {
                            kept.insert(name.clone(), v);
                        }
                    } else {
                        return Err(TemplateError::intrinsic(format!(
                            "variable {name} in Fn::Sub expression does not resolve to a string"
                        )));
                    }
                }
            }
        }
        if symbolic {
            if kept.is_empty() {
                return Ok(json!({ "Fn::Sub": rebuilt }));
            }
            return Ok(json!({ "Fn::Sub": [rebuilt, kept] }));
        }
        Ok(Value::String(out))
    }

    fn join(&self, arg: &Value) -> Result<Value> {
        let Value::Array(a) = arg else {
            return Err(TemplateError::intrinsic(JOIN_ERROR));
        };
        let [delim, list] = a.as_slice() else {
            return Err(TemplateError::intrinsic(JOIN_ERROR));
        };
        let delim = match self.arg(delim)? {
            Value::String(s) => s,
            _ => return Err(TemplateError::intrinsic(JOIN_ERROR)),
        };
        let list = self.arg(list)?;
        let Value::Array(items) = &list else {
            if !is_concrete(&list) && self.partial() {
                return Ok(json!({ "Fn::Join": [delim, list] }));
            }
            return Err(TemplateError::intrinsic(JOIN_ERROR));
        };
        let mut parts = Vec::with_capacity(items.len());
        for item in items {
            match scalar_string(item) {
                Some(s) => parts.push(s),
                None if !is_concrete(item) && self.partial() => {
                    return Ok(json!({ "Fn::Join": [delim, list] }));
                }
                None => return Err(TemplateError::intrinsic(JOIN_ERROR)),
            }
        }
        Ok(Value::String(parts.join(&delim)))
    }

    fn select(&self, arg: &Value) -> Result<Option<Value>> {
        let Value::Array(a) = arg else {
            return Err(TemplateError::intrinsic(SELECT_ERROR));
        };
        let [index, list] = a.as_slice() else {
            return Err(TemplateError::intrinsic(SELECT_ERROR));
        };
        let index_v = self.arg(index)?;
        let list = self.arg(list)?;
        let symbolic = !is_concrete(&index_v) || !is_concrete(&list);
        if symbolic && self.partial() {
            // A concrete list literal whose selected element is concrete still resolves.
            if let (Some(i), Value::Array(items)) = (index_of(&index_v), &list) {
                if let Some(item) = items.get(i) {
                    if is_concrete(item) {
                        return Ok(Some(item.clone()));
                    }
                }
            }
            return Ok(Some(json!({ "Fn::Select": [index_v, list] })));
        }
        let Some(i) = index_of(&index_v) else {
            return Err(TemplateError::intrinsic(SELECT_ERROR));
        };
        let Value::Array(items) = list else {
            return Err(TemplateError::intrinsic(SELECT_ERROR));
        };
        match items.into_iter().nth(i) {
            Some(v) => Ok(Some(v)),
            None => Err(TemplateError::intrinsic(format!(
                "Fn::Select cannot select nonexistent value at index {i}"
            ))),
        }
    }

    fn split(&self, arg: &Value) -> Result<Value> {
        let Value::Array(a) = arg else {
            return Err(TemplateError::intrinsic(SPLIT_ERROR));
        };
        let [delim, source] = a.as_slice() else {
            return Err(TemplateError::intrinsic(SPLIT_ERROR));
        };
        let delim = match self.arg(delim)? {
            Value::String(s) if !s.is_empty() => s,
            _ => return Err(TemplateError::intrinsic(SPLIT_ERROR)),
        };
        let source = self.arg(source)?;
        match scalar_string(&source) {
            Some(s) => Ok(Value::Array(
                s.split(delim.as_str())
                    .map(|p| Value::String(p.to_owned()))
                    .collect(),
            )),
            None if !is_concrete(&source) && self.partial() => {
                Ok(json!({ "Fn::Split": [delim, source] }))
            }
            None => Err(TemplateError::intrinsic(SPLIT_ERROR)),
        }
    }

    fn if_(&self, arg: &Value) -> Result<Option<Value>> {
        let Value::Array(a) = arg else {
            return Err(TemplateError::intrinsic(IF_ERROR));
        };
        let [cond, yes, no] = a.as_slice() else {
            return Err(TemplateError::intrinsic(IF_ERROR));
        };
        let Value::String(cond) = cond else {
            return Err(TemplateError::intrinsic(IF_ERROR));
        };
        if self.mode == Mode::Static {
            if !self.template.conditions.contains_key(cond) {
                return Err(TemplateError::intrinsic(format!(
                    "unresolved condition dependency {cond} in Fn::If"
                )));
            }
            // Without parameter values either branch may be taken: both must resolve.
            let yes = self.eval(yes)?.unwrap_or(Value::Null);
            let no = self.eval(no)?.unwrap_or(Value::Null);
            return Ok(Some(json!({ "Fn::If": [cond, yes, no] })));
        }
        let Some(holds) = self.conditions.get(cond) else {
            return Err(TemplateError::intrinsic(format!(
                "unresolved condition dependency {cond} in Fn::If"
            )));
        };
        // Only the branch taken is evaluated: the other may name resources that do not exist.
        self.eval(if *holds { yes } else { no })
    }

    fn equals(&self, arg: &Value) -> Result<Value> {
        let Value::Array(a) = arg else {
            return Err(TemplateError::intrinsic(EQUALS_ERROR));
        };
        let [x, y] = a.as_slice() else {
            return Err(TemplateError::intrinsic(EQUALS_ERROR));
        };
        let x = self.arg(x)?;
        let y = self.arg(y)?;
        if (!is_concrete(&x) || !is_concrete(&y)) && self.partial() {
            return Ok(json!({ "Fn::Equals": [x, y] }));
        }
        Ok(Value::Bool(values_equal(&x, &y)))
    }

    fn boolean(&self, v: &Value, error: &str) -> Result<Option<bool>> {
        let conditions_allowed = true;
        let r = match v {
            // `{"Condition": "Name"}` is a condition reference wherever a boolean is wanted.
            Value::Object(m) => match intrinsic_call(m, conditions_allowed) {
                Some(("Condition", arg)) => match self.condition(arg)? {
                    Some(b) => Value::Bool(b),
                    None => return Ok(None),
                },
                Some((name, arg)) => self.call(name, arg)?.unwrap_or(Value::Null),
                None => return Err(TemplateError::intrinsic(error.to_owned())),
            },
            other => other.clone(),
        };
        match r {
            Value::Bool(b) => Ok(Some(b)),
            Value::String(s) if s == "true" => Ok(Some(true)),
            Value::String(s) if s == "false" => Ok(Some(false)),
            other if !is_concrete(&other) && self.partial() => Ok(None),
            _ => Err(TemplateError::intrinsic(error.to_owned())),
        }
    }

    fn and_or(&self, arg: &Value, name: &str) -> Result<Value> {
        let error = format!(
            "every {name} object requires a list of at least 2 and at most 10 boolean parameters."
        );
        let Value::Array(items) = arg else {
            return Err(TemplateError::intrinsic(error));
        };
        if !(2..=10).contains(&items.len()) {
            return Err(TemplateError::intrinsic(error));
        }
        let mut values = Vec::with_capacity(items.len());
        for item in items {
            values.push(self.boolean(item, &error)?);
        }
        if values.iter().any(Option::is_none) {
            let mut call = Map::new();
            call.insert(name.to_owned(), Value::Array(items.clone()));
            return Ok(Value::Object(call));
        }
        let flags = values.into_iter().flatten();
        Ok(Value::Bool(if name == "Fn::And" {
            flags.into_iter().all(|b| b)
        } else {
            flags.into_iter().any(|b| b)
        }))
    }

    fn not(&self, arg: &Value) -> Result<Value> {
        let error = "every Fn::Not object requires a list of 1 boolean parameter.";
        let Value::Array(items) = arg else {
            return Err(TemplateError::intrinsic(error));
        };
        let [item] = items.as_slice() else {
            return Err(TemplateError::intrinsic(error));
        };
        match self.boolean(item, error)? {
            Some(b) => Ok(Value::Bool(!b)),
            None => Ok(json!({ "Fn::Not": items })),
        }
    }

    fn find_in_map(&self, arg: &Value) -> Result<Value> {
        let Value::Array(a) = arg else {
            return Err(TemplateError::intrinsic(FIND_IN_MAP_ERROR));
        };
        let [map, top, second] = a.as_slice() else {
            return Err(TemplateError::intrinsic(FIND_IN_MAP_ERROR));
        };
        let map = self.arg(map)?;
        let top = self.arg(top)?;
        let second = self.arg(second)?;
        let (Some(map), Some(top), Some(second)) = (
            scalar_string(&map),
            scalar_string(&top),
            scalar_string(&second),
        ) else {
            if self.partial() && !(is_concrete(&map) && is_concrete(&top) && is_concrete(&second)) {
                return Ok(json!({ "Fn::FindInMap": [map, top, second] }));
            }
            return Err(TemplateError::intrinsic(FIND_IN_MAP_ERROR));
        };
        self.template
            .mappings
            .get(&map)
            .and_then(|m| m.get(&top))
            .and_then(|m| m.get(&second))
            .cloned()
            .ok_or_else(|| {
                TemplateError::intrinsic(format!(
                    "Unable to get mapping for {map}::{top}::{second}"
                ))
            })
    }

    fn get_azs(&self, arg: &Value) -> Result<Value> {
        let region = match self.arg(arg)? {
            Value::String(s) => s,
            Value::Null => String::new(),
            _ => {
                return Err(TemplateError::intrinsic(
                    "every Fn::GetAZs object requires a region name, or an empty string for the stack's region.",
                ))
            }
        };
        let zones = if region.is_empty() || region == self.ctx.pseudo.region {
            self.ctx.pseudo.availability_zones.clone()
        } else {
            crate::context::availability_zones(&region)
        };
        Ok(Value::Array(zones.into_iter().map(Value::String).collect()))
    }

    fn base64(&self, arg: &Value) -> Result<Value> {
        let v = self.arg(arg)?;
        match scalar_string(&v) {
            Some(s) => Ok(Value::String(
                base64::engine::general_purpose::STANDARD.encode(s.as_bytes()),
            )),
            None if !is_concrete(&v) && self.partial() => Ok(json!({ "Fn::Base64": v })),
            None => Err(TemplateError::intrinsic(
                "every Fn::Base64 object must contain a String.",
            )),
        }
    }

    fn cidr(&self, arg: &Value) -> Result<Value> {
        let Value::Array(a) = arg else {
            return Err(TemplateError::intrinsic(CIDR_ERROR));
        };
        let [block, count, bits] = a.as_slice() else {
            return Err(TemplateError::intrinsic(CIDR_ERROR));
        };
        let block = self.arg(block)?;
        let count = self.arg(count)?;
        let bits = self.arg(bits)?;
        if self.partial() && !(is_concrete(&block) && is_concrete(&count) && is_concrete(&bits)) {
            return Ok(json!({ "Fn::Cidr": [block, count, bits] }));
        }
        let (Some(block), Some(count), Some(bits)) =
            (scalar_string(&block), index_of(&count), index_of(&bits))
        else {
            return Err(TemplateError::intrinsic(CIDR_ERROR));
        };
        cidr(&block, count, bits)
            .map(|subnets| Value::Array(subnets.into_iter().map(Value::String).collect()))
    }

    fn import_value(&self, arg: &Value) -> Result<Value> {
        let v = self.arg(arg)?;
        let Some(name) = scalar_string(&v) else {
            if !is_concrete(&v) && self.partial() {
                return Ok(json!({ "Fn::ImportValue": v }));
            }
            return Err(TemplateError::intrinsic(
                "the value of Fn::ImportValue must be a string naming an export.",
            ));
        };
        if self.mode == Mode::Static {
            return Ok(json!({ "Fn::ImportValue": name }));
        }
        match (self.ctx.imports)(&name) {
            Some(value) => Ok(Value::String(value)),
            None => Err(TemplateError::Validation(format!(
                "No export named {name} found."
            ))),
        }
    }
}

fn index_of(v: &Value) -> Option<usize> {
    match v {
        Value::Number(n) => n.as_u64().and_then(|u| usize::try_from(u).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `Fn::Equals`: scalars compare as the strings CloudFormation makes of them.
fn values_equal(x: &Value, y: &Value) -> bool {
    match (scalar_string(x), scalar_string(y)) {
        (Some(a), Some(b)) => a == b,
        _ => x == y,
    }
}

/// `Fn::Cidr`: `count` consecutive blocks of `2^bits` addresses from the start of `block`.
pub(crate) fn cidr(block: &str, count: usize, bits: usize) -> Result<Vec<String>> {
    let err = || TemplateError::intrinsic(CIDR_ERROR);
    let (addr, prefix) = block.split_once('/').ok_or_else(err)?;
    let prefix: u32 = prefix.parse().map_err(|_| err())?;
    if !(1..=256).contains(&count) {
        return Err(err());
    }
    let count = count as u128;
    let bits = u32::try_from(bits).map_err(|_| err())?;
    if let Ok(v4) = addr.parse::<Ipv4Addr>() {
        if prefix > 32 || bits == 0 || bits > 32 - prefix {
            return Err(err());
        }
        let host_bits = 32 - prefix;
        let mask: u32 = if prefix == 0 {
            0
        } else {
            u32::MAX << host_bits
        };
        let base = u32::from(v4) & mask;
        let available = 1u128 << (host_bits - bits);
        if count > available {
            return Err(TemplateError::intrinsic(format!(
                "Fn::Cidr cannot fit {count} subnets of {bits} bits in {block}"
            )));
        }
        let new_prefix = 32 - bits;
        return Ok((0..count)
            .map(|i| {
                let start = u128::from(base) + (i << bits);
                let start = u32::try_from(start).unwrap_or(u32::MAX);
                format!("{}/{new_prefix}", Ipv4Addr::from(start))
            })
            .collect());
    }
    if let Ok(v6) = addr.parse::<Ipv6Addr>() {
        if prefix > 128 || bits == 0 || bits > 128 - prefix {
            return Err(err());
        }
        let host_bits = 128 - prefix;
        let mask: u128 = if prefix == 0 {
            0
        } else {
            u128::MAX << host_bits
        };
        let base = u128::from(v6) & mask;
        let room = host_bits - bits;
        if room < 127 && count > (1u128 << room) {
            return Err(TemplateError::intrinsic(format!(
                "Fn::Cidr cannot fit {count} subnets of {bits} bits in {block}"
            )));
        }
        let new_prefix = 128 - bits;
        return Ok((0..count)
            .map(|i| {
                let offset = i.checked_shl(bits).unwrap_or(0);
                format!("{}/{new_prefix}", Ipv6Addr::from(base.wrapping_add(offset)))
            })
            .collect());
    }
    Err(err())
}
