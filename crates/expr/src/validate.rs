//! From source text to validated trees, in DynamoDB's order of checks:
//!
//! 1. the expression may not be empty or longer than 4096 characters;
//! 2. syntax (the first token that cannot continue a valid expression), and redundant
//!    parentheses while parsing;
//! 3. a walk of the syntax tree in source order: reserved words used as names, list indexes out
//!    of range, unknown functions, functions used where they are not allowed, repeated update
//!    sections;
//! 4. placeholders and operators, children before their operator: undefined `#names` and
//!    `:values`, path depth, operand counts, operand types, repeated paths, per-function rules;
//!    for updates and projections the document paths come first, in reverse order, to detect
//!    overlapping and conflicting paths.

use std::cmp::Ordering;

use tributary_model::attr::AttributeValue;

use crate::ast::{long_type_name, Cond, Operand, TypeSet};
use crate::eval::compare_ordered;
use crate::lexer::syntax_error_message;
use crate::parser::{
    ArithOp, CmpOp, ParseFail, Parser, RawAction, RawCond, RawElem, RawLeaf, RawOperand, RawPath,
    RawSetValue, Section, MAX_NESTING,
};
use crate::path::{Path, PathElem, PathTree};
use crate::placeholders::Placeholders;
use crate::reserved::is_reserved;

/// Longest expression DynamoDB accepts, in UTF-16 code units.
const MAX_EXPRESSION_SIZE: usize = 4096;
/// Deepest document path.
const MAX_PATH_DEPTH: usize = 32;
/// Most operators (comparisons, logical operators, functions, `+`/`-`) in one expression.
const MAX_OPERATORS: usize = 300;
/// Most values on the right of `IN`.
const MAX_IN_OPERANDS: usize = 100;

/// Every message here is wrapped as `Invalid <Kind>: <message>` by the caller.
pub(crate) type Msg = String;

/// Empty and oversized expressions.
pub(crate) fn front_checks(src: &str, with_size: bool) -> Result<(), Msg> {
    if src.is_empty() {
        return Err("The expression can not be empty;".to_owned());
    }
    let len = src.encode_utf16().count();
    if len > MAX_EXPRESSION_SIZE {
        return Err(if with_size {
            format!("Expression size has exceeded the maximum allowed size; expression size: {len}")
        } else {
            "Expression size has exceeded the maximum allowed size;".to_owned()
        });
    }
    Ok(())
}

pub(crate) fn parse_fail_message(src: &str, parser: &Parser<'_>, f: ParseFail) -> Msg {
    match f {
        ParseFail::Syntax(at) => syntax_error_message(src, parser.tokens(), at),
        ParseFail::RedundantParens => "The expression has redundant parentheses;".to_owned(),
        ParseFail::TooDeep => format!(
            "The expression has too many nesting levels; maximum nesting levels: {MAX_NESTING}"
        ),
    }
}

// ----- functions and operators -----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    AttributeExists,
    AttributeNotExists,
    AttributeType,
    BeginsWith,
    Contains,
    Size,
    IfNotExists,
    ListAppend,
}

impl Func {
    /// Function names are case-sensitive.
    fn from_name(s: &str) -> Option<Func> {
        Some(match s {
            "attribute_exists" => Func::AttributeExists,
            "attribute_not_exists" => Func::AttributeNotExists,
            "attribute_type" => Func::AttributeType,
            "begins_with" => Func::BeginsWith,
            "contains" => Func::Contains,
            "size" => Func::Size,
            "if_not_exists" => Func::IfNotExists,
            "list_append" => Func::ListAppend,
            _ => return None,
        })
    }

    fn is_condition_function(self) -> bool {
        !matches!(self, Func::IfNotExists | Func::ListAppend)
    }

    fn returns_bool(self) -> bool {
        !matches!(self, Func::Size | Func::IfNotExists | Func::ListAppend)
    }

    fn spec(self) -> OpSpec {
        let (required, operand_types, allow_null) = match self {
            Func::AttributeExists | Func::AttributeNotExists => (1, TypeSet::ALL, true),
            Func::AttributeType | Func::Contains | Func::IfNotExists => (2, TypeSet::ALL, true),
            Func::BeginsWith => (2, TypeSet::STRING_BINARY, true),
            Func::Size => (1, TypeSet::ITERABLE, true),
            Func::ListAppend => (2, TypeSet::LIST, false),
        };
        OpSpec {
            required,
            more: false,
            operand_types,
            allow_null,
        }
    }
}

/// Operand rules of an operator or function.
#[derive(Debug, Clone, Copy)]
struct OpSpec {
    required: usize,
    more: bool,
    operand_types: TypeSet,
    /// Operators that tolerate missing operands also forbid repeating their first path.
    allow_null: bool,
}

fn cmp_spec(op: CmpOp) -> OpSpec {
    OpSpec {
        required: 2,
        more: false,
        operand_types: match op {
            CmpOp::Eq | CmpOp::Ne => TypeSet::ALL,
            _ => TypeSet::ORDERED,
        },
        allow_null: true,
    }
}

const BETWEEN_SPEC: OpSpec = OpSpec {
    required: 3,
    more: false,
    operand_types: TypeSet::ORDERED,
    allow_null: true,
};

const IN_SPEC: OpSpec = OpSpec {
    required: 1,
    more: true,
    operand_types: TypeSet::ALL,
    allow_null: true,
};

const ARITH_SPEC: OpSpec = OpSpec {
    required: 2,
    more: false,
    operand_types: TypeSet::NUMBER,
    allow_null: false,
};

fn arith_symbol(op: ArithOp) -> &'static str {
    match op {
        ArithOp::Plus => "+",
        ArithOp::Minus => "-",
    }
}

fn supports(op: &Operand, types: TypeSet) -> bool {
    match op {
        Operand::Path(_) | Operand::IfNotExists(..) => true,
        Operand::Value(v) => types.contains_value(v),
        Operand::Size(_) | Operand::Arith(..) => types.intersects(TypeSet::NUMBER),
        Operand::ListAppend(..) => types.intersects(TypeSet::LIST),
    }
}

fn describe(op: &Operand) -> String {
    match op {
        Operand::Path(_) | Operand::IfNotExists(..) => TypeSet::ALL.describe(),
        Operand::Value(v) => TypeSet::of(v).describe(),
        Operand::Size(_) | Operand::Arith(..) => TypeSet::NUMBER.describe(),
        Operand::ListAppend(..) => TypeSet::LIST.describe(),
    }
}

/// `{S:a}`-style rendering of a bound in BETWEEN messages.
fn brief(v: &AttributeValue) -> String {
    let inner = match v {
        AttributeValue::S(s) => s.clone(),
        AttributeValue::N(n) => n.clone(),
        AttributeValue::B(b) => base64(b),
        other => format!("{other:?}"),
    };
    format!("{{{}:{inner}}}", v.type_name())
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

// ----- step 3: the syntax-tree walk -----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Category {
    Condition,
    Update,
}

fn walk_path(p: &RawPath) -> Result<(), Msg> {
    for e in &p.0 {
        match e {
            RawElem::Id(name) if is_reserved(name) => {
                return Err(format!(
                    "Attribute name is a reserved keyword; reserved keyword: {name}"
                ))
            }
            RawElem::Index(digits) if digits.parse::<i32>().is_err() => {
                return Err(format!(
                    "List index is not within the allowable range; index: [{digits}]"
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

fn enter_function(name: &str, nesting: usize, cat: Category) -> Result<(), Msg> {
    let Some(f) = Func::from_name(name) else {
        return Err(format!("Invalid function name; function: {name}"));
    };
    let misused = || {
        format!(
            "The function is not allowed to be used this way in an expression; function: {name}"
        )
    };
    match cat {
        Category::Update => {
            if f.is_condition_function() {
                return Err(format!(
                    "The function is not allowed in an update expression; function: {name}"
                ));
            }
            if nesting > 0 && f != Func::IfNotExists {
                return Err(misused());
            }
        }
        Category::Condition => {
            if !f.is_condition_function() {
                return Err(format!(
                    "The function is not allowed in a condition expression; function: {name}"
                ));
            }
            if nesting == 0 && !f.returns_bool() {
                return Err(misused());
            }
            if nesting > 0 && f != Func::Size {
                return Err(misused());
            }
        }
    }
    Ok(())
}

fn walk_operand(op: &RawOperand, nesting: usize, cat: Category) -> Result<(), Msg> {
    match op {
        RawOperand::Path(p) => walk_path(p),
        RawOperand::Value(_) => Ok(()),
        RawOperand::Func(call) => {
            let (name, args) = &**call;
            enter_function(name, nesting, cat)?;
            for a in args {
                walk_operand(a, nesting + 1, cat)?;
            }
            Ok(())
        }
    }
}

/// Step 3 over a condition. Only `NOT`, `AND` and `OR` recurse here (with a small frame); the
/// leaves are checked by [`walk_leaf`].
pub(crate) fn walk_cond(c: &RawCond) -> Result<(), Msg> {
    match c {
        RawCond::Not(inner) => walk_cond(inner),
        RawCond::And(terms) | RawCond::Or(terms) => {
            for t in terms {
                walk_cond(t)?;
            }
            Ok(())
        }
        RawCond::Leaf(leaf) => walk_leaf(leaf),
    }
}

#[inline(never)]
fn walk_leaf(c: &RawLeaf) -> Result<(), Msg> {
    match c {
        RawLeaf::Cmp(_, a, b) => {
            walk_operand(a, 1, Category::Condition)?;
            walk_operand(b, 1, Category::Condition)
        }
        RawLeaf::Between(a, b, c) => {
            for o in [a, b, c] {
                walk_operand(o, 1, Category::Condition)?;
            }
            Ok(())
        }
        RawLeaf::In(a, list) => {
            walk_operand(a, 1, Category::Condition)?;
            for o in list {
                walk_operand(o, 1, Category::Condition)?;
            }
            Ok(())
        }
        RawLeaf::Func(name, args) => {
            enter_function(name, 0, Category::Condition)?;
            for a in args {
                walk_operand(a, 1, Category::Condition)?;
            }
            Ok(())
        }
    }
}

pub(crate) fn walk_update(sections: &[(Section, Vec<RawAction>)]) -> Result<(), Msg> {
    let mut seen: Vec<Section> = Vec::new();
    for (section, actions) in sections {
        for a in actions {
            match a {
                RawAction::Set(p, v) => {
                    walk_path(p)?;
                    match v {
                        RawSetValue::Operand(o) => walk_operand(o, 0, Category::Update)?,
                        RawSetValue::Arith(_, x, y) => {
                            walk_operand(x, 1, Category::Update)?;
                            walk_operand(y, 1, Category::Update)?;
                        }
                    }
                }
                RawAction::Remove(p) | RawAction::Add(p, _) | RawAction::Delete(p, _) => {
                    walk_path(p)?
                }
            }
        }
        if seen.contains(section) {
            return Err(format!(
                "The \"{}\" section can only be used once in an update expression;",
                section.name()
            ));
        }
        seen.push(*section);
    }
    Ok(())
}

pub(crate) fn walk_projection(paths: &[RawPath]) -> Result<(), Msg> {
    paths.iter().try_for_each(walk_path)
}

// ----- step 4: placeholders and operators -----

pub(crate) struct Validator<'p, 'a> {
    pub ph: &'p mut Placeholders<'a>,
    operators: usize,
}

impl<'p, 'a> Validator<'p, 'a> {
    pub(crate) fn new(ph: &'p mut Placeholders<'a>) -> Self {
        Validator { ph, operators: 0 }
    }

    pub(crate) fn path(&mut self, p: &RawPath) -> Result<Path, Msg> {
        if p.0.len() > MAX_PATH_DEPTH {
            return Err(format!(
                "The document path has too many nesting levels; nesting levels: {}",
                p.0.len()
            ));
        }
        let mut out = Vec::with_capacity(p.0.len());
        for e in &p.0 {
            out.push(match e {
                RawElem::Id(name) => PathElem::Attr(name.clone()),
                RawElem::Sub(key) => match self.ph.name(key) {
                    Some(name) => PathElem::Attr(name.to_owned()),
                    None => {
                        return Err(format!(
                        "An expression attribute name used in the document path is not defined; attribute name: {key}"
                    ))
                    }
                },
                RawElem::Index(digits) => PathElem::Index(digits.parse().unwrap_or(usize::MAX)),
            });
        }
        Ok(Path(out))
    }

    pub(crate) fn value(&mut self, key: &str) -> Result<AttributeValue, Msg> {
        match self.ph.value(key) {
            Some(v) => Ok(v.clone()),
            None => Err(format!(
                "An expression attribute value used in expression is not defined; attribute value: {key}"
            )),
        }
    }

    fn count_operator(&mut self) -> Result<(), Msg> {
        self.operators += 1;
        if self.operators > MAX_OPERATORS {
            return Err(format!(
                "The expression contains too many operators; operator count: {}",
                self.operators
            ));
        }
        Ok(())
    }

    /// Operand count, operand types and the repeated-first-path rule.
    fn check_operator(&self, name: &str, spec: OpSpec, children: &[&Operand]) -> Result<(), Msg> {
        let n = children.len();
        let count_ok = if spec.more {
            n >= spec.required
        } else {
            n == spec.required
        };
        if !count_ok {
            return Err(format!(
                "Incorrect number of operands for operator or function; operator or function: {name}, number of operands: {n}"
            ));
        }
        for c in children {
            if !supports(c, spec.operand_types) {
                return Err(format!(
                    "Incorrect operand type for operator or function; operator or function: {name}, operand type: {}",
                    describe(c)
                ));
            }
        }
        if spec.allow_null && n > 1 {
            if let Operand::Path(first) = children[0] {
                if children[1..]
                    .iter()
                    .any(|c| matches!(c, Operand::Path(p) if p == first))
                {
                    return Err(format!(
                        "The first operand must be distinct from the remaining operands for this operator or function; operator: {name}, first operand: {first}"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Resolves an operand. Only function calls recurse here; their checks happen in
    /// [`Validator::function_operand`], outside the recursion.
    pub(crate) fn operand(&mut self, op: &RawOperand) -> Result<Operand, Msg> {
        match op {
            RawOperand::Path(p) => Ok(Operand::Path(self.path(p)?)),
            RawOperand::Value(key) => Ok(Operand::Value(self.value(key)?)),
            RawOperand::Func(call) => {
                let (name, args) = &**call;
                let children = self.operands(args)?;
                self.function_operand(name, children)
            }
        }
    }

    fn operands(&mut self, raw: &[RawOperand]) -> Result<Vec<Operand>, Msg> {
        let mut out = Vec::with_capacity(raw.len());
        for o in raw {
            out.push(self.operand(o)?);
        }
        Ok(out)
    }

    /// A value-producing function call whose arguments are resolved.
    #[inline(never)]
    fn function_operand(&mut self, name: &str, children: Vec<Operand>) -> Result<Operand, Msg> {
        let f = Func::from_name(name)
            .ok_or_else(|| format!("Invalid function name; function: {name}"))?;
        let refs: Vec<&Operand> = children.iter().collect();
        self.check_operator(name, f.spec(), &refs)?;
        let mut it = children.into_iter();
        let mut next = || Box::new(it.next().unwrap_or(Operand::Value(AttributeValue::Null)));
        let out = match f {
            Func::Size => Operand::Size(next()),
            Func::IfNotExists => {
                let (a, b) = (next(), next());
                if !matches!(*a, Operand::Path(_)) {
                    return Err(format!(
                        "Operator or function requires a document path; operator or function: {name}"
                    ));
                }
                Operand::IfNotExists(a, b)
            }
            Func::ListAppend => Operand::ListAppend(next(), next()),
            // Boolean functions never reach operand position (rejected by the walk).
            _ => {
                return Err(format!(
                    "The function is not allowed to be used this way in an expression; function: {name}"
                ))
            }
        };
        self.count_operator()?;
        Ok(out)
    }

    pub(crate) fn arith(
        &mut self,
        op: ArithOp,
        a: &RawOperand,
        b: &RawOperand,
    ) -> Result<Operand, Msg> {
        let x = self.operand(a)?;
        let y = self.operand(b)?;
        self.check_operator(arith_symbol(op), ARITH_SPEC, &[&x, &y])?;
        self.count_operator()?;
        Ok(Operand::Arith(op, Box::new(x), Box::new(y)))
    }

    /// Resolves and checks a condition, children before their operator. Only `NOT`, `AND` and
    /// `OR` recurse here, through [`Validator::conds`], and no `Cond` passes through this frame
    /// (it stays small: the nesting limit is sized by the stack each level needs); leaves are
    /// checked by [`Validator::leaf_cond`].
    pub(crate) fn cond(&mut self, c: &RawCond) -> Result<Cond, Msg> {
        let terms = match c {
            RawCond::Leaf(leaf) => return self.leaf_cond(leaf),
            RawCond::Not(inner) => self.conds(std::slice::from_ref(&**inner))?,
            RawCond::And(terms) | RawCond::Or(terms) => self.conds(terms)?,
        };
        self.join(c, terms)
    }

    /// The `NOT`, `AND` or `OR` node `c` over its checked `terms`; each `AND` or `OR` of a
    /// chain is one operator.
    fn join(&mut self, c: &RawCond, mut terms: Vec<Cond>) -> Result<Cond, Msg> {
        let (out, operators) = match c {
            RawCond::And(_) => {
                let n = terms.len().saturating_sub(1);
                (Cond::And(terms), n)
            }
            RawCond::Or(_) => {
                let n = terms.len().saturating_sub(1);
                (Cond::Or(terms), n)
            }
            _ => match terms.pop() {
                Some(inner) => (Cond::Not(Box::new(inner)), 1),
                None => return Err("The expression has an empty NOT;".to_owned()),
            },
        };
        for _ in 0..operators {
            self.count_operator()?;
        }
        Ok(out)
    }

    fn conds(&mut self, raw: &[RawCond]) -> Result<Vec<Cond>, Msg> {
        let mut out = Vec::with_capacity(raw.len());
        for c in raw {
            out.push(self.cond(c)?);
        }
        Ok(out)
    }

    /// A condition without sub-conditions (one operator).
    #[inline(never)]
    fn leaf_cond(&mut self, c: &RawLeaf) -> Result<Cond, Msg> {
        let out = self.leaf_cond_unchecked(c)?;
        self.count_operator()?;
        Ok(out)
    }

    fn leaf_cond_unchecked(&mut self, c: &RawLeaf) -> Result<Cond, Msg> {
        Ok(match c {
            RawLeaf::Cmp(op, a, b) => {
                let x = self.operand(a)?;
                let y = self.operand(b)?;
                self.check_operator(op.symbol(), cmp_spec(*op), &[&x, &y])?;
                Cond::Cmp(*op, x, y)
            }
            RawLeaf::Between(a, b, c) => {
                let x = self.operand(a)?;
                let lo = self.operand(b)?;
                let hi = self.operand(c)?;
                self.check_operator("BETWEEN", BETWEEN_SPEC, &[&x, &lo, &hi])?;
                if let (Operand::Value(l), Operand::Value(h)) = (&lo, &hi) {
                    if l.type_name() != h.type_name() {
                        return Err(format!(
                            "The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: AttributeValue: {}, upper bound operand: AttributeValue: {}",
                            brief(l),
                            brief(h)
                        ));
                    }
                    if compare_ordered(l, h) == Some(Ordering::Greater) {
                        return Err(format!(
                            "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {}, upper bound operand: AttributeValue: {}",
                            brief(l),
                            brief(h)
                        ));
                    }
                }
                Cond::Between(x, lo, hi)
            }
            RawLeaf::In(a, list) => {
                let x = self.operand(a)?;
                let ys = self.operands(list)?;
                let mut refs = vec![&x];
                refs.extend(ys.iter());
                self.check_operator("IN", IN_SPEC, &refs)?;
                if ys.len() > MAX_IN_OPERANDS {
                    return Err(format!(
                        "The IN operator is provided with too many operands; number of operands: {}",
                        ys.len()
                    ));
                }
                Cond::In(x, ys)
            }
            RawLeaf::Func(name, args) => {
                let children = self.operands(args)?;
                let f = Func::from_name(name)
                    .ok_or_else(|| format!("Invalid function name; function: {name}"))?;
                let refs: Vec<&Operand> = children.iter().collect();
                self.check_operator(name, f.spec(), &refs)?;
                self.bool_function(f, name, children)?
            }
        })
    }

    fn bool_function(&mut self, f: Func, name: &str, args: Vec<Operand>) -> Result<Cond, Msg> {
        let mut it = args.into_iter();
        let mut next = || it.next().unwrap_or(Operand::Value(AttributeValue::Null));
        let requires_path = || {
            format!("Operator or function requires a document path; operator or function: {name}")
        };
        Ok(match f {
            Func::AttributeExists | Func::AttributeNotExists => match next() {
                Operand::Path(p) if f == Func::AttributeExists => Cond::Exists(p),
                Operand::Path(p) => Cond::NotExists(p),
                _ => return Err(requires_path()),
            },
            Func::AttributeType => {
                let subject = next();
                let ty = next();
                let type_name = match &ty {
                    Operand::Value(AttributeValue::S(s)) => s.clone(),
                    other => {
                        return Err(format!(
                            "Incorrect operand type for operator or function; operator or function: {name}, operand type: {}",
                            describe(other)
                        ))
                    }
                };
                const VALID: [&str; 10] = ["S", "N", "B", "NULL", "SS", "BOOL", "L", "BS", "NS", "M"];
                if !VALID.contains(&type_name.as_str()) {
                    return Err(format!(
                        "Invalid attribute type name found; type: {type_name}, valid types: {{B,NULL,SS,BOOL,L,BS,N,NS,S,M}}"
                    ));
                }
                Cond::Type(subject, type_name)
            }
            Func::BeginsWith => Cond::BeginsWith(next(), next()),
            Func::Contains => Cond::Contains(next(), next()),
            Func::Size | Func::IfNotExists | Func::ListAppend => {
                return Err(format!(
                    "The function is not allowed to be used this way in an expression; function: {name}"
                ))
            }
        })
    }

    /// The value of an UpdateExpression SET action.
    pub(crate) fn set_value(&mut self, v: &RawSetValue) -> Result<Operand, Msg> {
        match v {
            RawSetValue::Operand(o) => self.operand(o),
            RawSetValue::Arith(op, a, b) => self.arith(*op, a, b),
        }
    }

    /// The literal of an ADD or DELETE action, with its type rule.
    pub(crate) fn add_delete_value(&mut self, key: &str, add: bool) -> Result<AttributeValue, Msg> {
        let v = self.value(key)?;
        let ok = match &v {
            AttributeValue::Ss(_) | AttributeValue::Ns(_) | AttributeValue::Bs(_) => true,
            AttributeValue::N(_) => add,
            _ => false,
        };
        if !ok {
            return Err(format!(
                "Incorrect operand type for operator or function; operator: {}, operand type: {}",
                if add { "ADD" } else { "DELETE" },
                long_type_name(&v)
            ));
        }
        Ok(v)
    }
}

/// Resolves `paths` (in reverse order, as DynamoDB does) into a tree, rejecting overlaps and
/// conflicts.
pub(crate) fn build_path_tree(
    v: &mut Validator<'_, '_>,
    raw: &[&RawPath],
) -> Result<(Vec<Path>, PathTree), Msg> {
    let mut tree = PathTree::default();
    let mut resolved: Vec<Option<Path>> = vec![None; raw.len()];
    for (i, p) in raw.iter().enumerate().rev() {
        let path = v.path(p)?;
        tree.insert(&path)?;
        resolved[i] = Some(path);
    }
    Ok((resolved.into_iter().flatten().collect(), tree))
}

#[cfg(test)]
mod tests {
    use super::base64;

    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }
}
