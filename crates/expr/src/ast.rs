//! Validated expression trees: placeholders resolved, functions known and checked. A tree is
//! never deeper than the nesting its source wrote (`AND`/`OR` chains are flat), which the parser
//! bounds, so the recursive walks here and in `eval` are bounded too.

use tributary_model::attr::AttributeValue;

pub(crate) use crate::parser::{ArithOp, CmpOp};
use crate::path::Path;

/// A value-producing operand.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand {
    Path(Path),
    Value(AttributeValue),
    Size(Box<Operand>),
    IfNotExists(Box<Operand>, Box<Operand>),
    ListAppend(Box<Operand>, Box<Operand>),
    Arith(ArithOp, Box<Operand>, Box<Operand>),
}

/// A boolean condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cond {
    Cmp(CmpOp, Operand, Operand),
    Between(Operand, Operand, Operand),
    In(Operand, Vec<Operand>),
    Exists(Path),
    NotExists(Path),
    /// `attribute_type(x, :t)` with the type name already checked.
    Type(Operand, String),
    BeginsWith(Operand, Operand),
    Contains(Operand, Operand),
    Not(Box<Cond>),
    /// Two or more conditions, all of which must hold; evaluated in order.
    And(Vec<Cond>),
    /// Two or more conditions, one of which must hold; evaluated in order.
    Or(Vec<Cond>),
}

impl Operand {
    pub(crate) fn collect_paths(&self, out: &mut Vec<Path>) {
        match self {
            Operand::Path(p) => out.push(p.clone()),
            Operand::Value(_) => {}
            Operand::Size(a) => a.collect_paths(out),
            Operand::IfNotExists(a, b) | Operand::ListAppend(a, b) | Operand::Arith(_, a, b) => {
                a.collect_paths(out);
                b.collect_paths(out);
            }
        }
    }
}

impl Cond {
    pub(crate) fn collect_paths(&self, out: &mut Vec<Path>) {
        match self {
            Cond::Cmp(_, a, b) | Cond::BeginsWith(a, b) | Cond::Contains(a, b) => {
                a.collect_paths(out);
                b.collect_paths(out);
            }
            Cond::Between(a, b, c) => {
                a.collect_paths(out);
                b.collect_paths(out);
                c.collect_paths(out);
            }
            Cond::In(a, list) => {
                a.collect_paths(out);
                for o in list {
                    o.collect_paths(out);
                }
            }
            Cond::Exists(p) | Cond::NotExists(p) => out.push(p.clone()),
            Cond::Type(a, _) => a.collect_paths(out),
            Cond::Not(c) => c.collect_paths(out),
            Cond::And(terms) | Cond::Or(terms) => {
                for t in terms {
                    t.collect_paths(out);
                }
            }
        }
    }
}

/// A set of DynamoDB types, as a bit mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TypeSet(u16);

const TYPE_SYMBOLS: [&str; 10] = ["S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"];

impl TypeSet {
    pub(crate) const ALL: TypeSet = TypeSet(0x3ff);
    pub(crate) const ORDERED: TypeSet = TypeSet(0b111);
    pub(crate) const STRING_BINARY: TypeSet = TypeSet(0b101);
    pub(crate) const NUMBER: TypeSet = TypeSet(0b10);
    pub(crate) const LIST: TypeSet = TypeSet(1 << 7);
    /// What `size` accepts: strings, binaries, sets, maps and lists.
    pub(crate) const ITERABLE: TypeSet = TypeSet(0b1111_1101);

    pub(crate) fn of(v: &AttributeValue) -> TypeSet {
        TypeSet(1 << type_index(v))
    }

    pub(crate) fn intersects(self, other: TypeSet) -> bool {
        self.0 & other.0 != 0
    }

    pub(crate) fn contains_value(self, v: &AttributeValue) -> bool {
        self.intersects(TypeSet::of(v))
    }

    /// How DynamoDB names a set of types in "operand type" messages: the symbol for one type,
    /// a braced list for all of them.
    pub(crate) fn describe(self) -> String {
        if self == TypeSet::ALL {
            return "{NS,SS,L,BS,N,M,B,BOOL,NULL,S}".to_owned();
        }
        let names: Vec<&str> = (0..10)
            .filter(|i| self.0 & (1 << i) != 0)
            .map(|i| TYPE_SYMBOLS[i])
            .collect();
        if names.len() == 1 {
            names[0].to_owned()
        } else {
            format!("{{{}}}", names.join(","))
        }
    }
}

fn type_index(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(_) => 0,
        AttributeValue::N(_) => 1,
        AttributeValue::B(_) => 2,
        AttributeValue::Ss(_) => 3,
        AttributeValue::Ns(_) => 4,
        AttributeValue::Bs(_) => 5,
        AttributeValue::M(_) => 6,
        AttributeValue::L(_) => 7,
        AttributeValue::Null => 8,
        AttributeValue::Bool(_) => 9,
    }
}

/// The long type names used by UpdateExpression ADD/DELETE messages.
pub(crate) fn long_type_name(v: &AttributeValue) -> &'static str {
    match v {
        AttributeValue::S(_) => "STRING",
        AttributeValue::N(_) => "NUMBER",
        AttributeValue::B(_) => "BINARY",
        AttributeValue::Ss(_) => "STRING_SET",
        AttributeValue::Ns(_) => "NUMBER_SET",
        AttributeValue::Bs(_) => "BINARY_SET",
        AttributeValue::M(_) => "MAP",
        AttributeValue::L(_) => "LIST",
        AttributeValue::Null => "NULL",
        AttributeValue::Bool(_) => "BOOLEAN",
    }
}
