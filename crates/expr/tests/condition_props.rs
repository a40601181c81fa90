//! Property test: random small items and random condition trees, rendered to expression text,
//! judged by the engine and by a small independent reference written from DynamoDB's rules.

use std::collections::BTreeMap;

use proptest::prelude::*;
use tributary_expr::{parse_condition, ExprKind, Placeholders};
use tributary_model::attr::{AttributeValue as V, Item};

/// Document paths the conditions use: how they are written and what they resolve to.
const PATHS: &[(&str, &[Step])] = &[
    ("a", &[Step::K("a")]),
    ("b", &[Step::K("b")]),
    ("c", &[Step::K("c")]),
    ("a.x", &[Step::K("a"), Step::K("x")]),
    ("a[0]", &[Step::K("a"), Step::I(0)]),
    ("#n", &[Step::K("b")]),
    ("#n.y", &[Step::K("b"), Step::K("y")]),
    ("c[1]", &[Step::K("c"), Step::I(1)]),
];

const TYPE_NAMES: &[&str] = &[
    "S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL", "DOG",
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    K(&'static str),
    I(usize),
}

#[derive(Debug, Clone)]
enum O {
    Path(usize),
    Val(usize),
    /// `size(path)`.
    Size(usize),
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone)]
enum C {
    Cmp(Op, O, O),
    Between(O, O, O),
    In(O, Vec<O>),
    Exists(usize),
    NotExists(usize),
    Begins(O, O),
    Contains(O, O),
    Type(O, usize),
    Not(Box<C>),
    And(Box<C>, Box<C>),
    Or(Box<C>, Box<C>),
}

fn value() -> impl Strategy<Value = V> {
    let scalar = prop_oneof![
        prop::sample::select(vec!["", "a", "ab", "b", "é", "𝄞"]).prop_map(|s| V::S(s.into())),
        prop::sample::select(vec!["-1", "0", "1", "1.5", "2", "4", "10"])
            .prop_map(|s| V::N(s.into())),
        prop::sample::select(vec![vec![], vec![0u8], vec![0, 1], vec![1]]).prop_map(V::B),
        any::<bool>().prop_map(V::Bool),
        Just(V::Null),
        prop::sample::subsequence(vec!["a", "b", "c"], 1..=3)
            .prop_map(|v| V::Ss(v.into_iter().map(String::from).collect())),
        prop::sample::subsequence(vec!["1", "2", "10"], 1..=3)
            .prop_map(|v| V::Ns(v.into_iter().map(String::from).collect())),
        prop::sample::subsequence(vec![vec![0u8], vec![1]], 1..=2).prop_map(V::Bs),
    ];
    scalar.prop_recursive(2, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(V::L),
            prop::collection::btree_map(
                prop::sample::select(vec!["x".to_string(), "y".to_string()]),
                inner,
                0..3
            )
            .prop_map(V::M),
        ]
    })
}

fn item() -> impl Strategy<Value = Item> {
    prop::collection::btree_map(
        prop::sample::select(vec!["a".to_string(), "b".to_string(), "c".to_string()]),
        value(),
        0..4,
    )
}

const NVALS: usize = 5;

fn operand() -> impl Strategy<Value = O> {
    prop_oneof![
        (0..PATHS.len()).prop_map(O::Path),
        (0..NVALS).prop_map(O::Val),
        (0..PATHS.len()).prop_map(O::Size),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop::sample::select(vec![Op::Eq, Op::Ne, Op::Lt, Op::Le, Op::Gt, Op::Ge])
}

fn cond() -> impl Strategy<Value = C> {
    let leaf = prop_oneof![
        (op(), operand(), operand()).prop_map(|(o, a, b)| C::Cmp(o, a, b)),
        (operand(), operand(), operand()).prop_map(|(a, b, c)| C::Between(a, b, c)),
        (operand(), prop::collection::vec(operand(), 1..4)).prop_map(|(a, l)| C::In(a, l)),
        (0..PATHS.len()).prop_map(C::Exists),
        (0..PATHS.len()).prop_map(C::NotExists),
        (operand(), operand()).prop_map(|(a, b)| C::Begins(a, b)),
        (operand(), operand()).prop_map(|(a, b)| C::Contains(a, b)),
        (operand(), 0..TYPE_NAMES.len()).prop_map(|(a, t)| C::Type(a, t)),
    ];
    leaf.prop_recursive(3, 16, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|c| C::Not(Box::new(c))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| C::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| C::Or(Box::new(a), Box::new(b))),
        ]
    })
}

// ----- rendering -----

fn render_o(o: &O) -> String {
    match o {
        O::Path(p) => PATHS[*p].0.to_string(),
        O::Val(v) => format!(":v{v}"),
        O::Size(p) => format!("size({})", PATHS[*p].0),
    }
}

fn render(c: &C) -> String {
    let sym = |o: Op| match o {
        Op::Eq => "=",
        Op::Ne => "<>",
        Op::Lt => "<",
        Op::Le => "<=",
        Op::Gt => ">",
        Op::Ge => ">=",
    };
    match c {
        C::Cmp(o, a, b) => format!("{} {} {}", render_o(a), sym(*o), render_o(b)),
        C::Between(a, b, c) => {
            format!(
                "{} BETWEEN {} AND {}",
                render_o(a),
                render_o(b),
                render_o(c)
            )
        }
        C::In(a, l) => format!(
            "{} IN ({})",
            render_o(a),
            l.iter().map(render_o).collect::<Vec<_>>().join(", ")
        ),
        C::Exists(p) => format!("attribute_exists({})", PATHS[*p].0),
        C::NotExists(p) => format!("attribute_not_exists({})", PATHS[*p].0),
        C::Begins(a, b) => format!("begins_with({}, {})", render_o(a), render_o(b)),
        C::Contains(a, b) => format!("contains({}, {})", render_o(a), render_o(b)),
        C::Type(a, t) => format!("attribute_type({}, :t{t})", render_o(a)),
        C::Not(x) => format!("NOT ({})", render(x)),
        C::And(x, y) => format!("({}) AND ({})", render(x), render(y)),
        C::Or(x, y) => format!("({}) OR ({})", render(x), render(y)),
    }
}

// ----- the reference -----

fn type_of(v: &V) -> &'static str {
    match v {
        V::S(_) => "S",
        V::N(_) => "N",
        V::B(_) => "B",
        V::Ss(_) => "SS",
        V::Ns(_) => "NS",
        V::Bs(_) => "BS",
        V::M(_) => "M",
        V::L(_) => "L",
        V::Null => "NULL",
        V::Bool(_) => "BOOL",
    }
}

fn ordered(v: &V) -> bool {
    matches!(v, V::S(_) | V::N(_) | V::B(_))
}

fn num(s: &str) -> f64 {
    s.parse().expect("test numbers are small decimals")
}

fn same(x: &V, y: &V) -> bool {
    match (x, y) {
        (V::N(a), V::N(b)) => num(a) == num(b),
        (V::L(a), V::L(b)) => a.len() == b.len() && a.iter().zip(b).all(|(p, q)| same(p, q)),
        (V::M(a), V::M(b)) => {
            a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| same(v, w)))
        }
        _ => x == y,
    }
}

fn order(x: &V, y: &V) -> Option<std::cmp::Ordering> {
    match (x, y) {
        (V::S(a), V::S(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
        (V::N(a), V::N(b)) => num(a).partial_cmp(&num(b)),
        (V::B(a), V::B(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

struct Ctx<'a> {
    item: &'a Item,
    vals: &'a [V],
}

impl Ctx<'_> {
    fn path(&self, p: usize) -> Option<V> {
        let mut steps = PATHS[p].1.iter();
        let Some(Step::K(first)) = steps.next() else {
            return None;
        };
        let mut cur = self.item.get(*first)?.clone();
        for s in steps {
            cur = match (s, cur) {
                (Step::K(k), V::M(m)) => m.get(*k)?.clone(),
                (Step::I(i), V::L(l)) => l.get(*i)?.clone(),
                _ => return None,
            };
        }
        Some(cur)
    }

    fn operand(&self, o: &O) -> Option<V> {
        match o {
            O::Path(p) => self.path(*p),
            O::Val(v) => Some(self.vals[*v].clone()),
            O::Size(p) => {
                let n = match self.path(*p)? {
                    V::S(s) => s.encode_utf16().count(),
                    V::B(b) => b.len(),
                    V::Ss(x) => x.len(),
                    V::Ns(x) => x.len(),
                    V::Bs(x) => x.len(),
                    V::L(x) => x.len(),
                    V::M(x) => x.len(),
                    _ => return None,
                };
                Some(V::N(n.to_string()))
            }
        }
    }

    fn cmp(&self, op: Op, x: Option<V>, y: Option<V>) -> bool {
        match op {
            Op::Eq => matches!((&x, &y), (Some(a), Some(b)) if same(a, b)),
            Op::Ne => !matches!((&x, &y), (Some(a), Some(b)) if same(a, b)),
            _ => {
                let (Some(a), Some(b)) = (x, y) else {
                    return false;
                };
                match order(&a, &b) {
                    None => false,
                    Some(o) => match op {
                        Op::Lt => o.is_lt(),
                        Op::Le => o.is_le(),
                        Op::Gt => o.is_gt(),
                        _ => o.is_ge(),
                    },
                }
            }
        }
    }

    fn eval(&self, c: &C) -> bool {
        match c {
            C::Cmp(op, a, b) => self.cmp(*op, self.operand(a), self.operand(b)),
            C::Between(a, lo, hi) => {
                let (x, l, h) = (self.operand(a), self.operand(lo), self.operand(hi));
                if [&x, &l, &h]
                    .iter()
                    .any(|v| v.as_ref().is_some_and(|v| !ordered(v)))
                {
                    return false;
                }
                self.cmp(Op::Ge, x.clone(), l) && self.cmp(Op::Le, x, h)
            }
            C::In(a, l) => match self.operand(a) {
                None => false,
                Some(x) => l
                    .iter()
                    .any(|o| self.operand(o).is_some_and(|y| same(&x, &y))),
            },
            C::Exists(p) => self.path(*p).is_some(),
            C::NotExists(p) => self.path(*p).is_none(),
            C::Begins(a, b) => match (self.operand(a), self.operand(b)) {
                (Some(V::S(x)), Some(V::S(y))) => x.starts_with(y.as_str()),
                (Some(V::B(x)), Some(V::B(y))) => x.starts_with(&y),
                _ => false,
            },
            C::Contains(a, b) => match (self.operand(a), self.operand(b)) {
                (Some(V::S(x)), Some(V::S(y))) => x.contains(y.as_str()),
                (Some(V::B(x)), Some(V::B(y))) => {
                    y.is_empty() || x.windows(y.len()).any(|w| w == y.as_slice())
                }
                (Some(V::L(x)), Some(y)) => x.iter().any(|e| same(e, &y)),
                (Some(V::Ss(x)), Some(V::S(y))) => x.contains(&y),
                (Some(V::Ns(x)), Some(V::N(y))) => x.iter().any(|e| num(e) == num(&y)),
                (Some(V::Bs(x)), Some(V::B(y))) => x.contains(&y),
                _ => false,
            },
            C::Type(a, t) => self
                .operand(a)
                .is_some_and(|v| type_of(&v) == TYPE_NAMES[*t]),
            C::Not(x) => !self.eval(x),
            C::And(x, y) => self.eval(x) && self.eval(y),
            C::Or(x, y) => self.eval(x) || self.eval(y),
        }
    }
}

/// Whether DynamoDB accepts the condition, from the rules restated independently.
fn valid(c: &C, vals: &[V]) -> bool {
    let lit = |o: &O| match o {
        O::Val(v) => Some(&vals[*v]),
        _ => None,
    };
    let same_path = |a: &O, b: &O| match (a, b) {
        (O::Path(x), O::Path(y)) => PATHS[*x].1 == PATHS[*y].1,
        _ => false,
    };
    let literals_ordered = |os: &[&O]| os.iter().all(|o| lit(o).is_none_or(ordered));
    match c {
        C::Cmp(op, a, b) => {
            !same_path(a, b) && (matches!(op, Op::Eq | Op::Ne) || literals_ordered(&[a, b]))
        }
        C::Between(a, lo, hi) => {
            let bounds_ok = match (lit(lo), lit(hi)) {
                (Some(l), Some(h)) => {
                    type_of(l) == type_of(h) && !order(l, h).is_some_and(|o| o.is_gt())
                }
                _ => true,
            };
            !same_path(a, lo) && !same_path(a, hi) && literals_ordered(&[a, lo, hi]) && bounds_ok
        }
        C::In(a, l) => !l.iter().any(|o| same_path(a, o)),
        C::Exists(_) | C::NotExists(_) => true,
        C::Begins(a, b) => {
            !same_path(a, b)
                && [a, b]
                    .iter()
                    .all(|o| lit(o).is_none_or(|v| matches!(v, V::S(_) | V::B(_))))
                && !matches!(a, O::Size(_))
                && !matches!(b, O::Size(_))
        }
        C::Contains(a, b) => !same_path(a, b),
        C::Type(_, t) => TYPE_NAMES[*t] != "DOG",
        C::Not(x) => valid(x, vals),
        C::And(x, y) | C::Or(x, y) => valid(x, vals) && valid(y, vals),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn engine_agrees_with_reference(
        it in item(),
        vals in prop::collection::vec(value(), NVALS),
        c in cond(),
    ) {
        let text = render(&c);
        let names = BTreeMap::from([("#n".to_string(), "b".to_string())]);
        let mut values: BTreeMap<String, V> = vals
            .iter()
            .enumerate()
            .map(|(i, v)| (format!(":v{i}"), v.clone()))
            .collect();
        for (i, t) in TYPE_NAMES.iter().enumerate() {
            values.insert(format!(":t{i}"), V::S((*t).to_string()));
        }
        let mut ph = Placeholders::new(&names, &values);
        let parsed = parse_condition(&text, ExprKind::Filter, &mut ph);
        let expect_valid = valid(&c, &vals);
        prop_assert_eq!(
            parsed.is_ok(),
            expect_valid,
            "{}: {:?}",
            text,
            parsed.as_ref().err().map(|e| e.message.clone())
        );
        if let Ok(parsed) = parsed {
            let want = Ctx { item: &it, vals: &vals }.eval(&c);
            prop_assert_eq!(parsed.eval(&it), want, "{} on {:?}", text, it);
        }
    }
}
