//! Recursive-descent parsers for the three grammars (condition, update, projection). They
//! produce raw syntax trees (names and placeholders unresolved) and report the first token at
//! which the input stops being a valid prefix, the way DynamoDB's parser does. Redundant
//! parentheses (`((x))`) are rejected while parsing; where DynamoDB's parser would still be
//! looking ahead to choose between a parenthesised operand and a parenthesised condition, the
//! complaint waits until that choice is made, so a syntax error found first wins.

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
    Func(String, Vec<RawOperand>),
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawCond {
    Cmp(CmpOp, RawOperand, RawOperand),
    Between(RawOperand, RawOperand, RawOperand),
    In(RawOperand, Vec<RawOperand>),
    Func(String, Vec<RawOperand>),
    Not(Box<RawCond>),
    And(Box<RawCond>, Box<RawCond>),
    Or(Box<RawCond>, Box<RawCond>),
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

/// Why parsing stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParseFail {
    /// Syntax error at this token index; the message is built from the token stream.
    Syntax(usize),
    RedundantParens,
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
}

impl<'s> Parser<'s> {
    pub(crate) fn new(src: &'s str) -> Self {
        Parser {
            src,
            toks: tokenize(src),
            pos: 0,
            zones: Vec::new(),
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
                let mut args = vec![self.operand()?];
                while self.peek() == Tok::Comma {
                    self.bump();
                    args.push(self.operand()?);
                }
                self.expect(Tok::RParen)?;
                Ok(RawOperand::Func(name, args))
            }
            Tok::Id | Tok::NameSub => Ok(RawOperand::Path(self.path()?)),
            _ => self.fail(),
        }
    }

    /// `operand := path | :value | func | '(' operand ')'`; returns whether it was parenthesised.
    fn operand_p(&mut self) -> PResult<(RawOperand, bool)> {
        if self.peek() == Tok::LParen {
            self.bump();
            let (inner, parened) = self.operand_p()?;
            self.expect(Tok::RParen)?;
            if parened {
                self.redundant_parens()?;
            }
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

    fn and_cond(&mut self) -> PResult<RawCond> {
        let first = self.unary_cond()?;
        Ok(self.continue_and(first)?.0)
    }

    /// Given a parsed unary condition, parses any `AND`/`OR` continuation (AND binds tighter,
    /// both associate to the right). The flag tells whether anything was added.
    fn continue_or(&mut self, first: RawCond) -> PResult<(RawCond, bool)> {
        let (left, extended) = self.continue_and(first)?;
        if self.peek() == Tok::Or {
            self.bump();
            let right = self.or_cond()?;
            return Ok((RawCond::Or(Box::new(left), Box::new(right)), true));
        }
        Ok((left, extended))
    }

    fn continue_and(&mut self, first: RawCond) -> PResult<(RawCond, bool)> {
        if self.peek() == Tok::And {
            self.bump();
            let right = self.and_cond()?;
            return Ok((RawCond::And(Box::new(first), Box::new(right)), true));
        }
        Ok((first, false))
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
                return Ok(RawCond::Between(lhs, lo, hi));
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
                return Ok(RawCond::In(lhs, list));
            }
            _ => return self.fail(),
        };
        self.bump();
        let rhs = self.operand()?;
        Ok(RawCond::Cmp(op, lhs, rhs))
    }

    /// Completes a primary whose first operand has been read (inside an undecided region).
    fn finish_primary(&mut self, lhs: RawOperand, zone: &mut bool) -> PResult<RawCond> {
        let next = self.peek();
        if Self::is_comparison_start(next) {
            self.close_zone(zone)?;
            return self.comparison_rest(lhs);
        }
        if let RawOperand::Func(name, args) = lhs {
            if Self::is_condition_follower(next) {
                self.close_zone(zone)?;
                return Ok(RawCond::Func(name, args));
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
                let inner = self.unary_cond()?;
                Ok(RawCond::Not(Box::new(inner)))
            }
            Tok::LParen => {
                self.open_zone();
                let mut zone = true;
                match self.group(&mut zone) {
                    Ok(Group::Cond(c, _)) => {
                        self.close_zone(&mut zone)?;
                        Ok(c)
                    }
                    Ok(Group::Operand(op, _)) => self.finish_primary(op, &mut zone),
                    Err(e) => {
                        self.drop_zone(&mut zone);
                        Err(e)
                    }
                }
            }
            _ => {
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
        }
    }

    /// Parses `'(' ... ')'` where the content may be a condition or an operand.
    fn group(&mut self, zone: &mut bool) -> PResult<Group> {
        self.expect(Tok::LParen)?;
        let content = match self.peek() {
            Tok::Not => {
                self.close_zone(zone)?;
                let c = self.or_cond()?;
                Group::Cond(c, false)
            }
            Tok::LParen => match self.group(zone)? {
                Group::Cond(c, g) => {
                    self.close_zone(zone)?;
                    let (c, extended) = self.continue_or(c)?;
                    Group::Cond(c, g && !extended)
                }
                Group::Operand(op, parened) => self.group_after_operand(op, parened, zone)?,
            },
            _ => {
                let op = self.plain_operand()?;
                self.group_after_operand(op, false, zone)?
            }
        };
        self.expect(Tok::RParen)?;
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

    /// Inside a group, after its first operand: a comparison (and more) makes it a condition;
    /// a closing parenthesis leaves it an operand.
    fn group_after_operand(
        &mut self,
        op: RawOperand,
        parened: bool,
        zone: &mut bool,
    ) -> PResult<Group> {
        let next = self.peek();
        if Self::is_comparison_start(next) {
            self.close_zone(zone)?;
            let c = self.comparison_rest(op)?;
            return Ok(Group::Cond(self.continue_or(c)?.0, false));
        }
        if next == Tok::RParen {
            return Ok(Group::Operand(op, parened));
        }
        if let RawOperand::Func(name, args) = op {
            if matches!(next, Tok::And | Tok::Or) {
                self.close_zone(zone)?;
                let (c, _) = self.continue_or(RawCond::Func(name, args))?;
                return Ok(Group::Cond(c, false));
            }
        }
        self.fail()
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

    fn sv_group(&mut self, zone: &mut bool) -> PResult<SvGroup> {
        self.expect(Tok::LParen)?;
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

fn arith_op(t: Tok) -> Option<ArithOp> {
    match t {
        Tok::Plus => Some(ArithOp::Plus),
        Tok::Minus => Some(ArithOp::Minus),
        _ => None,
    }
}
