//! Evaluation of conditions against an item, with DynamoDB's semantics: a missing attribute
//! makes every comparison false except `<>` (which is then true); comparing values of
//! different types is false; ordering comparisons, `BETWEEN` and `begins_with` are false for
//! types they do not order; `size` of a number, boolean or null is "missing".

use std::borrow::Cow;
use std::cmp::Ordering;

use tributary_model::attr::{AttributeValue, Item};
use tributary_model::number;

use crate::ast::{CmpOp, Cond, Operand, TypeSet};

/// The elements in order; sets are normally stored sorted already, so this rarely copies.
fn sorted_by<T: Clone>(v: &[T], cmp: impl Fn(&T, &T) -> Ordering) -> Cow<'_, [T]> {
    if v.windows(2).all(|w| cmp(&w[0], &w[1]) != Ordering::Greater) {
        Cow::Borrowed(v)
    } else {
        let mut owned = v.to_vec();
        owned.sort_by(|a, b| cmp(a, b));
        Cow::Owned(owned)
    }
}

/// Equality as DynamoDB defines it: same type and same value; numbers by value, sets as sets.
pub(crate) fn av_eq(a: &AttributeValue, b: &AttributeValue) -> bool {
    use AttributeValue as V;
    match (a, b) {
        (V::N(x), V::N(y)) => number::compare(x, y) == Ordering::Equal,
        (V::Ns(x), V::Ns(y)) => {
            let num = |a: &String, b: &String| number::compare(a, b);
            x.len() == y.len()
                && sorted_by(x, num)
                    .iter()
                    .zip(sorted_by(y, num).iter())
                    .all(|(p, q)| num(p, q) == Ordering::Equal)
        }
        (V::Ss(x), V::Ss(y)) => {
            x.len() == y.len() && sorted_by(x, Ord::cmp) == sorted_by(y, Ord::cmp)
        }
        (V::Bs(x), V::Bs(y)) => {
            x.len() == y.len() && sorted_by(x, Ord::cmp) == sorted_by(y, Ord::cmp)
        }
        (V::L(x), V::L(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| av_eq(p, q)),
        (V::M(x), V::M(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| av_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Order of two values of the same orderable type (S and B bytewise, N numerically).
pub(crate) fn compare_ordered(a: &AttributeValue, b: &AttributeValue) -> Option<Ordering> {
    use AttributeValue as V;
    match (a, b) {
        (V::S(x), V::S(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (V::N(x), V::N(y)) => Some(number::compare(x, y)),
        (V::B(x), V::B(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// `size()`: UTF-16 code units of a string, bytes of a binary, elements of a set, list or map.
pub(crate) fn size_of(v: &AttributeValue) -> Option<usize> {
    use AttributeValue as V;
    Some(match v {
        V::S(s) => s.encode_utf16().count(),
        V::B(b) => b.len(),
        V::Ss(x) => x.len(),
        V::Ns(x) => x.len(),
        V::Bs(x) => x.len(),
        V::L(x) => x.len(),
        V::M(x) => x.len(),
        V::N(_) | V::Null | V::Bool(_) => return None,
    })
}

fn contains_slice(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// `contains(a, b)`: substring for S and B, membership for sets (of the matching scalar type)
/// and lists (by equality).
pub(crate) fn contains(a: &AttributeValue, b: &AttributeValue) -> bool {
    use AttributeValue as V;
    match (a, b) {
        (V::S(x), V::S(y)) => contains_slice(x.as_bytes(), y.as_bytes()),
        (V::B(x), V::B(y)) => contains_slice(x, y),
        (V::L(items), _) => items.iter().any(|i| av_eq(i, b)),
        (V::Ss(set), V::S(s)) => set.contains(s),
        (V::Ns(set), V::N(n)) => set.iter().any(|m| number::compare(m, n) == Ordering::Equal),
        (V::Bs(set), V::B(x)) => set.contains(x),
        _ => false,
    }
}

pub(crate) fn begins_with(a: &AttributeValue, b: &AttributeValue) -> bool {
    use AttributeValue as V;
    match (a, b) {
        (V::S(x), V::S(y)) => x.as_bytes().starts_with(y.as_bytes()),
        (V::B(x), V::B(y)) => x.starts_with(y),
        _ => false,
    }
}

fn number_value(n: usize) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

/// The value of an operand in a condition; `None` when it is missing.
pub(crate) fn operand<'a>(op: &'a Operand, item: &'a Item) -> Option<Cow<'a, AttributeValue>> {
    match op {
        Operand::Path(p) => p.resolve(item).map(Cow::Borrowed),
        Operand::Value(v) => Some(Cow::Borrowed(v)),
        Operand::Size(inner) => {
            let v = operand(inner, item)?;
            size_of(&v).map(|n| Cow::Owned(number_value(n)))
        }
        // Update-only operands never appear in conditions.
        Operand::IfNotExists(..) | Operand::ListAppend(..) | Operand::Arith(..) => None,
    }
}

/// False when a present operand is of a type the operator does not handle.
fn all_of(types: TypeSet, vals: &[&Option<Cow<'_, AttributeValue>>]) -> bool {
    vals.iter()
        .all(|v| v.as_ref().is_none_or(|v| types.contains_value(v)))
}

fn cmp_holds(op: CmpOp, a: Option<&AttributeValue>, b: Option<&AttributeValue>) -> bool {
    let (Some(a), Some(b)) = (a, b) else {
        return op == CmpOp::Ne;
    };
    match op {
        CmpOp::Eq => av_eq(a, b),
        CmpOp::Ne => !av_eq(a, b),
        _ => match compare_ordered(a, b) {
            Some(o) => match op {
                CmpOp::Lt => o == Ordering::Less,
                CmpOp::Le => o != Ordering::Greater,
                CmpOp::Gt => o == Ordering::Greater,
                _ => o != Ordering::Less,
            },
            None => false,
        },
    }
}

/// Whether `c` holds for `item`. Only `NOT`, `AND` and `OR` recurse, and with a small frame:
/// the leaves are evaluated by [`leaf`].
pub(crate) fn cond(c: &Cond, item: &Item) -> bool {
    match c {
        Cond::Not(inner) => !cond(inner, item),
        Cond::And(terms) => {
            for t in terms {
                if !cond(t, item) {
                    return false;
                }
            }
            true
        }
        Cond::Or(terms) => {
            for t in terms {
                if cond(t, item) {
                    return true;
                }
            }
            false
        }
        other => leaf(other, item),
    }
}

/// A condition without sub-conditions.
#[inline(never)]
fn leaf(c: &Cond, item: &Item) -> bool {
    match c {
        Cond::Cmp(op, a, b) => {
            let x = operand(a, item);
            let y = operand(b, item);
            if !matches!(op, CmpOp::Eq | CmpOp::Ne) && !all_of(TypeSet::ORDERED, &[&x, &y]) {
                return false;
            }
            cmp_holds(*op, x.as_deref(), y.as_deref())
        }
        Cond::Between(a, lo, hi) => {
            let x = operand(a, item);
            let l = operand(lo, item);
            let h = operand(hi, item);
            if !all_of(TypeSet::ORDERED, &[&x, &l, &h]) {
                return false;
            }
            cmp_holds(CmpOp::Le, x.as_deref(), h.as_deref())
                && cmp_holds(CmpOp::Ge, x.as_deref(), l.as_deref())
        }
        Cond::In(a, list) => {
            let Some(x) = operand(a, item) else {
                return false;
            };
            list.iter()
                .any(|o| operand(o, item).is_some_and(|y| av_eq(&x, &y)))
        }
        Cond::Exists(p) => p.resolve(item).is_some(),
        Cond::NotExists(p) => p.resolve(item).is_none(),
        Cond::Type(a, t) => operand(a, item).is_some_and(|v| v.type_name() == t),
        Cond::BeginsWith(a, b) => {
            let x = operand(a, item);
            let y = operand(b, item);
            if !all_of(TypeSet::STRING_BINARY, &[&x, &y]) {
                return false;
            }
            match (x, y) {
                (Some(x), Some(y)) => begins_with(&x, &y),
                _ => false,
            }
        }
        Cond::Contains(a, b) => match (operand(a, item), operand(b, item)) {
            (Some(x), Some(y)) => contains(&x, &y),
            _ => false,
        },
        Cond::Not(_) | Cond::And(_) | Cond::Or(_) => cond(c, item),
    }
}
