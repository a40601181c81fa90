//! Recursive-descent parsers for the three grammars (condition, update, projection). They
//! produce raw syntax trees (names and placeholders unresolved) and report the first token at
//! which the input stops being a valid prefix, the way DynamoDB's parser does. Redundant
//! parentheses (`((x))`) are rejected while parsing; where DynamoDB's parser would still be
//! looking ahead to choose between a parenthesised operand and a parenthesised condition, the
//! complaint waits until that choice is made, so a syntax error found first wins.
//!
//! Recursion is bounded: `AND`/`OR` chains are parsed in a loop into one n-ary node, and every
//! construct that does recurse (a parenthesis, `NOT`, a function call) first calls
//! [`Parser::enter`], which refuses to go deeper than [`MAX_NESTING`]. Every later pass over the
//! trees (validation, evaluation, update application, drop) recurses at most as deep as the
//! nesting written, so it is bounded too.

use crate::lexer::{tokenize, Tok, Token};

/// One step of a document path as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawElem {
    /// A plain identifier (checked against the reserved words).
    Id(String),
    /// A `#name` placeholder.
    Sub(String),
    /// A list index, as its digits.
    Index(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawPath(pub Vec<RawElem>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawOperand {
    Path(RawPath),
    Value(String),
    /// A function call: its name and arguments (boxed, like [`RawCond`]'s leaves, to keep the
    /// parser's values small).
    Func(Box<(String, Vec<RawOperand>)>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// A condition without sub-conditions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawLeaf {
    Cmp(CmpOp, RawOperand, RawOperand),
    Between(RawOperand, RawOperand, RawOperand),
    In(RawOperand, Vec<RawOperand>),
    Func(String, Vec<RawOperand>),
}

/// A condition as written. Leaves are boxed so that the values the recursive functions below
/// pass around stay small: in a debug build every temporary gets its own stack slot, and the
/// stack used per nesting level is what [`MAX_NESTING`] must be safe for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawCond {
    Leaf(Box<RawLeaf>),
    Not(Box<RawCond>),
    /// Two or more conditions joined by `AND`, in source order (`AND` is associative, so a chain
    /// is one node however long it is).
    And(Vec<RawCond>),
    /// Two or more conditions joined by `OR`, in source order.
    Or(Vec<RawCond>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArithOp {
    Plus,
    Minus,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawSetValue {
    Operand(RawOperand),
    Arith(ArithOp, RawOperand, RawOperand),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawAction {
    Set(RawPath, RawSetValue),
    Remove(RawPath),
    Add(RawPath, String),
    Delete(RawPath, String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Set,
    Remove,
    Add,
    Delete,
}

impl Section {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Section::Set => "SET",
            Section::Remove => "REMOVE",
            Section::Add => "ADD",
            Section::Delete => "DELETE",
        }
    }
}

/// Deepest nesting the parsers accept: open parentheses, `NOT` operators and function calls
/// around the token being read, added up. DynamoDB caps expressions at 4 KB and 300 operators
/// but documents no nesting limit; 50 is far beyond hand-written expressions and leaves room for
/// generated ones (boto3 writes `a & b & c` as `((a AND b) AND c)`, one level per condition),
/// while the deepest accepted expression still parses, validates and evaluates in well under
/// 256 KiB of stack in a debug build (about 3 KiB per level there at worst, for
/// `(a = :v AND (b = :v AND ...))`; the tests run at the limit on such a stack).
pub(crate) const MAX_NESTING: usize = 50;

/// Why parsing stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParseFail {
    /// Syntax error at this token index; the message is built from the token stream.
    Syntax(usize),
    RedundantParens,
    /// Nesting deeper than [`MAX_NESTING`].
    TooDeep,
}

type PResult<T> = Result<T, ParseFail>;

/// What a parenthesised group turned out to hold.
enum Group {
    Cond(RawCond, bool),
    /// An operand; `true` when it was itself parenthesised.
    Operand(RawOperand, bool),
}

enum SvGroup {
    Arith(ArithOp, RawOperand, RawOperand, bool),
    Operand(RawOperand, bool),
}

pub(crate) struct Parser<'s> {
    src: &'s str,
    toks: Vec<Token>,
    pos: usize,
    /// Open "undecided" regions, each holding a postponed redundant-parentheses complaint.
    zones: Vec<bool>,
    /// Nesting levels open around the current token (see [`MAX_NESTING`]).
    depth: usize,
}

impl<'s> Parser<'s> {
    pub(crate) fn new(src: &'s str) -> Self {
        Parser {
            src,
            toks: tokenize(src),
            pos: 0,
            zones: Vec::new(),
            depth: 0,
        }
    }

    pub(crate) fn tokens(&self) -> &[Token] {
        &self.toks
    }

    fn peek(&self) -> Tok {
        self.toks[self.pos].kind
    }

    fn text(&self, i: usize) -> &'s str {
        &self.src[self.toks[i].start..self.toks[i].end]
    }

    fn bump(&mut self) -> usize {
        let i = self.pos;
        if self.toks[i].kind != Tok::Eof {
            self.pos += 1;
        }
        i
    }

    fn fail<T>(&self) -> PResult<T> {
        Err(ParseFail::Syntax(self.pos))
    }

    fn expect(&mut self, t: Tok) -> PResult<usize> {
        if self.peek() == t {
            Ok(self.bump())
        } else {
            self.fail()
        }
    }

    /// Opens one nesting level; past [`MAX_NESTING`] levels it fails instead, so no input can
    /// make the parser recurse without bound. Each successful `enter` is paired with a
    /// [`Parser::leave`] on the way out; an error skips the `leave`, which is fine because every
    /// error ends the parse (nothing catches one and parses on).
    fn enter(&mut self) -> PResult<()> {
        if self.depth >= MAX_NESTING {
            return Err(ParseFail::TooDeep);
        }
        self.depth += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn redundant_parens(&mut self) -> PResult<()> {
        match self.zones.last_mut() {
            Some(slot) => {
                *slot = true;
                Ok(())
            }
            None => Err(ParseFail::RedundantParens),
        }
    }

    fn open_zone(&mut self) {
        self.zones.push(false);
    }

    /// Ends the innermost undecided region; a postponed complaint is raised now.
    fn close_zone(&mut self, open: &mut bool) -> PResult<()> {
        if !*open {
            return Ok(());
        }
        *open = false;
        if self.zones.pop().unwrap_or(false) {
            self.redundant_parens()?;
        }
        Ok(())
    }

    fn drop_zone(&mut self, open: &mut bool) {
        if *open {
            *open = false;
            self.zones.pop();
        }
    }

    // ----- paths and operands -----

    fn id(&mut self) -> PResult<RawElem> {
        match self.peek() {
            Tok::Id => {
                let i = self.bump();
                Ok(RawElem::Id(self.text(i).to_owned()))
            }
            Tok::NameSub => {
                let i = self.bump();
                Ok(RawElem::Sub(self.text(i).to_owned()))
            }
            _ => self.fail(),
        }
    }

    fn path_rest(&mut self, head: RawElem) -> PResult<RawPath> {
        let mut elems = vec![head];
        loop {
            match self.peek() {
                Tok::Dot => {
                    self.bump();
                    elems.push(self.id()?);
                }
                Tok::LBracket => {
                    self.bump();
                    let i = self.expect(Tok::Index)?;
                    elems.push(RawElem::Index(self.text(i).to_owned()));
                    self.expect(Tok::RBracket)?;
                }
                _ => return Ok(RawPath(elems)),
            }
        }
    }

    pub(crate) fn path(&mut self) -> PResult<RawPath> {
        let head = self.id()?;
        self.path_rest(head)
    }

    /// An operand that does not start with `(`: a path, a `:value` or a function call.
    fn plain_operand(&mut self) -> PResult<RawOperand> {
        match self.peek() {
            Tok::ValueSub => {
                let i = self.bump();
                Ok(RawOperand::Value(self.text(i).to_owned()))
            }
            Tok::Id if self.toks[self.pos + 1].kind == Tok::LParen => {
                let i = self.bump();
                let name = self.text(i).to_owned();
                self.bump();
                self.enter()?;
                let args = self.arguments()?;
                self.leave();
                Ok(RawOperand::Func(Box::new((name, args))))
            }
            Tok::Id | Tok::NameSub => Ok(RawOperand::Path(self.path()?)),
            _ => self.fail(),
        }
    }

    /// A function's arguments after its `(`, and the closing `)`.
    fn arguments(&mut self) -> PResult<Vec<RawOperand>> {
        let mut args = vec![self.operand()?];
        while self.peek() == Tok::Comma {
            self.bump();
            args.push(self.operand()?);
        }
        self.expect(Tok::RParen)?;
        Ok(args)
    }

    /// `operand := path | :value | func | '(' operand ')'`; returns whether it was parenthesised.
    fn operand_p(&mut self) -> PResult<(RawOperand, bool)> {
        if self.peek() == Tok::LParen {
            self.enter()?;
            self.bump();
            let (inner, parened) = self.operand_p()?;
            self.expect(Tok::RParen)?;
            if parened {
                self.redundant_parens()?;
            }
            self.leave();
            Ok((inner, true))
        } else {
            Ok((self.plain_operand()?, false))
        }
    }

    fn operand(&mut self) -> PResult<RawOperand> {
        Ok(self.operand_p()?.0)
    }

    // ----- conditions -----

    pub(crate) fn parse_condition(&mut self) -> PResult<RawCond> {
        let c = self.or_cond()?;
        if self.peek() != Tok::Eof {
            return self.fail();
        }
        Ok(c)
    }

    fn or_cond(&mut self) -> PResult<RawCond> {
        let first = self.unary_cond()?;
        Ok(self.continue_or(first)?.0)
    }

    /// Given a parsed unary condition, parses any `AND`/`OR` continuation (AND binds tighter).
    /// Chains are read in a loop into n-ary nodes, so their length costs no stack. The flag
    /// tells whether anything was added.
    fn continue_or(&mut self, first: RawCond) -> PResult<(RawCond, bool)> {
        let mut or_terms = Vec::new();
        let mut and_terms = vec![first];
        loop {
            match self.peek() {
                Tok::And => {}
                Tok::Or => or_terms.push(chain(std::mem::take(&mut and_terms), RawCond::And)),
                _ => break,
            }
            self.bump();
            and_terms.push(self.unary_cond()?);
        }
        let extended = !or_terms.is_empty() || and_terms.len() > 1;
        let last = chain(and_terms, RawCond::And);
        if or_terms.is_empty() {
            return Ok((last, extended));
        }
        or_terms.push(last);
        Ok((RawCond::Or(or_terms), true))
    }

    fn is_comparison_start(t: Tok) -> bool {
        matches!(
            t,
            Tok::Eq | Tok::Ne | Tok::Lt | Tok::Le | Tok::Gt | Tok::Ge | Tok::In | Tok::Between
        )
    }

    fn is_condition_follower(t: Tok) -> bool {
        matches!(t, Tok::And | Tok::Or | Tok::RParen | Tok::Eof)
    }

    /// The rest of a comparison, `BETWEEN` or `IN` after its first operand.
    fn comparison_rest(&mut self, lhs: RawOperand) -> PResult<RawCond> {
        let op = match self.peek() {
            Tok::Eq => CmpOp::Eq,
            Tok::Ne => CmpOp::Ne,
            Tok::Lt => CmpOp::Lt,
            Tok::Le => CmpOp::Le,
            Tok::Gt => CmpOp::Gt,
            Tok::Ge => CmpOp::Ge,
            Tok::Between => {
                self.bump();
                let lo = self.operand()?;
                self.expect(Tok::And)?;
                let hi = self.operand()?;
                return Ok(leaf(RawLeaf::Between(lhs, lo, hi)));
            }
            Tok::In => {
                self.bump();
                self.expect(Tok::LParen)?;
                let mut list = vec![self.operand()?];
                while self.peek() == Tok::Comma {
                    self.bump();
                    list.push(self.operand()?);
                }
                self.expect(Tok::RParen)?;
                return Ok(leaf(RawLeaf::In(lhs, list)));
            }
            _ => return self.fail(),
        };
        self.bump();
        let rhs = self.operand()?;
        Ok(leaf(RawLeaf::Cmp(op, lhs, rhs)))
    }

    /// Completes a primary whose first operand has been read (inside an undecided region).
    fn finish_primary(&mut self, lhs: RawOperand, zone: &mut bool) -> PResult<RawCond> {
        let next = self.peek();
        if Self::is_comparison_start(next) {
            self.close_zone(zone)?;
            return self.comparison_rest(lhs);
        }
        if let RawOperand::Func(call) = lhs {
            let (name, args) = *call;
            if Self::is_condition_follower(next) {
                self.close_zone(zone)?;
                return Ok(leaf(RawLeaf::Func(name, args)));
            }
        }
        self.drop_zone(zone);
        self.fail()
    }

    /// `NOT cond | '(' ... ')' | operand comparison | func`.
    fn unary_cond(&mut self) -> PResult<RawCond> {
        match self.peek() {
            Tok::Not => {
                self.bump();
                self.enter()?;
                let inner = self.unary_cond()?;
                self.leave();
                Ok(RawCond::Not(Box::new(inner)))
            }
            Tok::LParen => {
                self.open_zone();
                let mut zone = true;
                let group = self.group(&mut zone);
                self.finish_group_primary(group, &mut zone)
            }
            _ => self.plain_primary(),
        }
    }

    /// A primary that starts with `(`, once its group is parsed.
    fn finish_group_primary(&mut self, group: PResult<Group>, zone: &mut bool) -> PResult<RawCond> {
        match group {
            Ok(Group::Cond(c, _)) => {
                self.close_zone(zone)?;
                Ok(c)
            }
            Ok(Group::Operand(op, _)) => self.finish_primary(op, zone),
            Err(e) => {
                self.drop_zone(zone);
                Err(e)
            }
        }
    }

    /// A primary that starts with an operand.
    fn plain_primary(&mut self) -> PResult<RawCond> {
        self.open_zone();
        let mut zone = true;
        match self.plain_operand() {
            Ok(op) => self.finish_primary(op, &mut zone),
            Err(e) => {
                self.drop_zone(&mut zone);
                Err(e)
            }
        }
    }

    /// Parses `'(' ... ')'` where the content may be a condition or an operand. This function,
    /// [`Parser::continue_or`] and [`Parser::unary_cond`] are the recursion of nested
    /// conditions, so they keep their frames small and leave the rest to helpers.
    /// Called at a `(`.
    fn group(&mut self, zone: &mut bool) -> PResult<Group> {
        self.enter()?;
        self.bump();
        let content = if self.peek() == Tok::Not {
            self.close_zone(zone)?;
            Group::Cond(self.or_cond()?, false)
        } else {
            let first = if self.peek() == Tok::LParen {
                self.group(zone)?
            } else {
                Group::Operand(self.plain_operand()?, false)
            };
            match first {
                Group::Cond(c, g) => {
                    self.close_zone(zone)?;
                    let (c, extended) = self.continue_or(c)?;
                    Group::Cond(c, g && !extended)
                }
                Group::Operand(op, parened) => match self.operand_in_group(op, parened, zone)? {
                    Group::Cond(c, _) => Group::Cond(self.continue_or(c)?.0, false),
                    operand => operand,
                },
            }
        };
        self.expect(Tok::RParen)?;
        self.leave();
        self.close_group(content)
    }

    /// Inside a group, after its first operand: a comparison makes it a condition (which the
    /// caller continues with any `AND`/`OR`); a closing parenthesis leaves it an operand.
    fn operand_in_group(
        &mut self,
        op: RawOperand,
        parened: bool,
        zone: &mut bool,
    ) -> PResult<Group> {
        let next = self.peek();
        if Self::is_comparison_start(next) {
            self.close_zone(zone)?;
            return Ok(Group::Cond(self.comparison_rest(op)?, false));
        }
        if next == Tok::RParen {
            return Ok(Group::Operand(op, parened));
        }
        if let RawOperand::Func(call) = op {
            let (name, args) = *call;
            if matches!(next, Tok::And | Tok::Or) {
                self.close_zone(zone)?;
                return Ok(Group::Cond(leaf(RawLeaf::Func(name, args)), false));
            }
        }
        self.fail()
    }

    /// After a group's `)`: parentheses around something already parenthesised are redundant.
    fn close_group(&mut self, content: Group) -> PResult<Group> {
        Ok(match content {
            Group::Cond(c, redundant) => {
                if redundant {
                    self.redundant_parens()?;
                }
                Group::Cond(c, true)
            }
            Group::Operand(op, parened) => {
                if parened {
                    self.redundant_parens()?;
                }
                Group::Operand(op, true)
            }
        })
    }

    // ----- update -----

    pub(crate) fn parse_update(&mut self) -> PResult<Vec<(Section, Vec<RawAction>)>> {
        let mut sections = Vec::new();
        loop {
            let section = match self.peek() {
                Tok::Set => Section::Set,
                Tok::Remove => Section::Remove,
                Tok::Add => Section::Add,
                Tok::Delete => Section::Delete,
                _ => return self.fail(),
            };
            self.bump();
            let mut actions = vec![self.action(section)?];
            while self.peek() == Tok::Comma {
                self.bump();
                actions.push(self.action(section)?);
            }
            sections.push((section, actions));
            if self.peek() == Tok::Eof {
                return Ok(sections);
            }
        }
    }

    fn action(&mut self, section: Section) -> PResult<RawAction> {
        let path = self.path()?;
        Ok(match section {
            Section::Set => {
                self.expect(Tok::Eq)?;
                RawAction::Set(path, self.set_value()?)
            }
            Section::Remove => RawAction::Remove(path),
            Section::Add | Section::Delete => {
                let i = self.expect(Tok::ValueSub)?;
                let v = self.text(i).to_owned();
                if section == Section::Add {
                    RawAction::Add(path, v)
                } else {
                    RawAction::Delete(path, v)
                }
            }
        })
    }

    fn is_set_value_follower(t: Tok) -> bool {
        matches!(
            t,
            Tok::Comma | Tok::Set | Tok::Remove | Tok::Add | Tok::Delete | Tok::Eof
        )
    }

    /// `set_value := operand | operand ('+'|'-') operand | '(' arithmetic ')'`.
    fn set_value(&mut self) -> PResult<RawSetValue> {
        self.open_zone();
        let mut zone = true;
        let first = if self.peek() == Tok::LParen {
            self.sv_group(&mut zone)
        } else {
            self.plain_operand().map(|op| SvGroup::Operand(op, false))
        };
        let first = match first {
            Ok(f) => f,
            Err(e) => {
                self.drop_zone(&mut zone);
                return Err(e);
            }
        };
        match first {
            SvGroup::Arith(op, a, b, _) => {
                self.close_zone(&mut zone)?;
                if !Self::is_set_value_follower(self.peek()) {
                    return self.fail();
                }
                Ok(RawSetValue::Arith(op, a, b))
            }
            SvGroup::Operand(lhs, _) => {
                let next = self.peek();
                if let Some(op) = arith_op(next) {
                    self.close_zone(&mut zone)?;
                    self.bump();
                    let rhs = self.operand()?;
                    if !Self::is_set_value_follower(self.peek()) {
                        return self.fail();
                    }
                    return Ok(RawSetValue::Arith(op, lhs, rhs));
                }
                if Self::is_set_value_follower(next) {
                    self.close_zone(&mut zone)?;
                    return Ok(RawSetValue::Operand(lhs));
                }
                self.drop_zone(&mut zone);
                self.fail()
            }
        }
    }

    /// Called at a `(`.
    fn sv_group(&mut self, zone: &mut bool) -> PResult<SvGroup> {
        self.enter()?;
        self.bump();
        let first = if self.peek() == Tok::LParen {
            self.sv_group(zone)?
        } else {
            SvGroup::Operand(self.plain_operand()?, false)
        };
        let content = match first {
            SvGroup::Arith(..) => first,
            SvGroup::Operand(lhs, parened) => match arith_op(self.peek()) {
                Some(op) => {
                    self.close_zone(zone)?;
                    self.bump();
                    let rhs = self.operand()?;
                    SvGroup::Arith(op, lhs, rhs, false)
                }
                None => SvGroup::Operand(lhs, parened),
            },
        };
        self.expect(Tok::RParen)?;
        self.leave();
        Ok(match content {
            SvGroup::Arith(op, a, b, parened) => {
                if parened {
                    self.redundant_parens()?;
                }
                SvGroup::Arith(op, a, b, true)
            }
            SvGroup::Operand(o, parened) => {
                if parened {
                    self.redundant_parens()?;
                }
                SvGroup::Operand(o, true)
            }
        })
    }

    // ----- projection -----

    pub(crate) fn parse_projection(&mut self) -> PResult<Vec<RawPath>> {
        let mut paths = vec![self.path()?];
        while self.peek() == Tok::Comma {
            self.bump();
            paths.push(self.path()?);
        }
        if self.peek() != Tok::Eof {
            return self.fail();
        }
        Ok(paths)
    }
}

fn leaf(l: RawLeaf) -> RawCond {
    RawCond::Leaf(Box::new(l))
}

/// One term as itself, several joined by `join`.
fn chain(mut terms: Vec<RawCond>, join: fn(Vec<RawCond>) -> RawCond) -> RawCond {
    if terms.len() == 1 {
        if let Some(only) = terms.pop() {
            return only;
        }
    }
    join(terms)
}

fn arith_op(t: Tok) -> Option<ArithOp> {
    match t {
        Tok::Plus => Some(ArithOp::Plus),
        Tok::Minus => Some(ArithOp::Minus),
        _ => None,
    }
}
