//! Query, and the ordered reads Query and Scan share: the table or one of its indexes as the
//! source, byte bounds derived from key conditions over the order-preserving key encoding,
//! DynamoDB's 1 MB pages and `LastEvaluatedKey`.

use std::ops::Bound;

use serde_json::{Map, Value};
use tributary_model::attr::{item_from_json, AttributeValue, Item};
use tributary_model::keyenc::{encode_key_attr, encode_prefix};
use tributary_model::AwsError;
use tributary_store::{index_entry_key, IndexMeta, KeySchema, KeySpace, Projection, TableMeta};

use super::exprs::{Exprs, Texts};
use super::items::reject_legacy;
use super::keys::{capacity_mode, lookup, read_consumed, read_units};
use super::tables::INTERNAL_INDEX_PREFIX;
use super::{raw, table_name_of};
use crate::{types, DynamoDb};
use tributary_expr::{KeyCondition, RangeCond};
use tributary_model::attr::item_into_wire;
use tributary_service::json::{check_range, constraint};

/// DynamoDB stops a Query or Scan page after this much data.
const PAGE_BYTES: usize = 1024 * 1024;

/// What a Query or Scan reads: the table, or one of its indexes.
pub(super) struct Source {
    space: KeySpace,
    index: Option<IndexMeta>,
    keys: KeySchema,
}

impl Source {
    /// The secondary index read, if not the table.
    pub(super) fn index(&self) -> Option<&IndexMeta> {
        self.index.as_ref()
    }

    pub(super) fn resolve(
        t: &TableMeta,
        index: Option<&str>,
        consistent: bool,
    ) -> Result<Source, AwsError> {
        let Some(name) = index else {
            return Ok(Source {
                space: KeySpace::Table(t.id),
                index: None,
                keys: t.key_schema.clone(),
            });
        };
        let ix = t
            .indexes
            .iter()
            .find(|i| i.name == name && !i.name.starts_with(INTERNAL_INDEX_PREFIX))
            .ok_or_else(|| {
                AwsError::validation(format!(
                    "The table does not have the specified index: {name}"
                ))
            })?;
        if ix.global && consistent {
            return Err(AwsError::validation(
                "Consistent reads are not supported on global secondary indexes",
            ));
        }
        if ix.backfilling() {
            return Err(AwsError::validation(format!(
                "Cannot read from backfilling global secondary index: {name}"
            )));
        }
        Ok(Source {
            space: KeySpace::Index(ix.id),
            index: Some(ix.clone()),
            keys: ix.key_schema.clone(),
        })
    }

    /// The key schema conditions refer to (the index's, for an index).
    pub(super) fn key_schema(&self) -> &KeySchema {
        &self.keys
    }

    /// Encodes `ExclusiveStartKey` into this source's storage key.
    pub(super) fn start_key(&self, t: &TableMeta, v: &Value) -> Result<Vec<u8>, AwsError> {
        let bad = || {
            AwsError::validation(
                "The provided starting key is invalid: The provided key element does not match the schema",
            )
        };
        let key = item_from_json(v)?;
        let table_attrs = std::iter::once(&t.key_schema.hash).chain(t.key_schema.range.as_ref());
        match &self.index {
            None => {
                let mut enc = Vec::new();
                let mut n = 0;
                for a in table_attrs {
                    let v = key
                        .get(&a.name)
                        .filter(|v| v.type_name() == a.ty)
                        .ok_or_else(bad)?;
                    encode_key_attr(v, &mut enc);
                    n += 1;
                }
                if key.len() != n {
                    return Err(bad());
                }
                Ok(enc)
            }
            Some(ix) => index_entry_key(ix, &t.key_schema, &key).ok_or_else(bad),
        }
    }

    /// Reads one page: walks the bounds in order, skipping entries `include` rejects (parallel
    /// scan segments), until `limit` entries were evaluated or a megabyte was read.
    pub(super) fn read_page(
        &self,
        app: &DynamoDb,
        t: &TableMeta,
        bounds: Bounds,
        reverse: bool,
        limit: Option<usize>,
        include: impl Fn(&Item) -> bool,
    ) -> Result<Page, AwsError> {
        let limit = limit.unwrap_or(usize::MAX);
        let (mut lower, mut upper) = (bounds.lower, bounds.upper);
        if let Some(start) = bounds.exclusive_start {
            if reverse {
                upper = tighter_upper(upper, start);
            } else {
                lower = tighter_lower(lower, start);
            }
        }
        let mut page = Page {
            items: Vec::new(),
            scanned: 0,
            bytes: 0,
            last_key: None,
        };
        let mut last_raw: Option<Item> = None;
        let mut exhausted = false;
        'outer: loop {
            let chunk =
                app.store
                    .range(self.space, as_ref(&lower), as_ref(&upper), reverse, 256)?;
            if chunk.is_empty() {
                exhausted = true;
                break;
            }
            let n = chunk.len();
            for (key, item) in chunk {
                if reverse {
                    upper = Bound::Excluded(key);
                } else {
                    lower = Bound::Excluded(key);
                }
                if !include(&item) {
                    continue;
                }
                page.scanned += 1;
                page.bytes += tributary_model::size::item_size(&item);
                last_raw = Some(item.clone());
                page.items.push(item);
                if page.scanned >= limit || page.bytes >= PAGE_BYTES {
                    break 'outer;
                }
            }
            if n < 256 {
                exhausted = true;
                break;
            }
        }
        if !exhausted {
            page.last_key = last_raw.map(|i| self.key_of(t, &i));
        }
        Ok(page)
    }

    /// `LastEvaluatedKey` for an entry: the table keys, plus the index keys for an index.
    fn key_of(&self, t: &TableMeta, item: &Item) -> Item {
        let mut names: Vec<&str> = vec![t.key_schema.hash.name.as_str()];
        names.extend(t.key_schema.range.as_ref().map(|r| r.name.as_str()));
        if self.index.is_some() {
            names.push(self.keys.hash.name.as_str());
            names.extend(self.keys.range.as_ref().map(|r| r.name.as_str()));
        }
        names
            .iter()
            .filter_map(|n| item.get(*n).map(|v| ((*n).to_owned(), v.clone())))
            .collect()
    }

    fn is_index_without_all(&self) -> Option<&IndexMeta> {
        self.index
            .as_ref()
            .filter(|i| i.projection != Projection::All)
    }
}

fn as_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k.as_slice()),
        Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn tighter_lower(b: Bound<Vec<u8>>, start: Vec<u8>) -> Bound<Vec<u8>> {
    match &b {
        Bound::Included(k) | Bound::Excluded(k) if *k > start => b,
        _ => Bound::Excluded(start),
    }
}

fn tighter_upper(b: Bound<Vec<u8>>, start: Vec<u8>) -> Bound<Vec<u8>> {
    match &b {
        Bound::Included(k) | Bound::Excluded(k) if *k < start => b,
        _ => Bound::Excluded(start),
    }
}

/// The smallest byte string greater than every string starting with `p`.
fn successor(p: &[u8]) -> Bound<Vec<u8>> {
    let mut s = p.to_vec();
    while let Some(last) = s.pop() {
        if last < 0xff {
            s.push(last + 1);
            return Bound::Excluded(s);
        }
    }
    Bound::Unbounded
}

/// The part of a key space a read walks.
pub(super) struct Bounds {
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
    exclusive_start: Option<Vec<u8>>,
}

impl Bounds {
    pub(super) fn all(exclusive_start: Option<Vec<u8>>) -> Bounds {
        Bounds {
            lower: Bound::Unbounded,
            upper: Bound::Unbounded,
            exclusive_start,
        }
    }

    /// The entries a key condition selects, as one contiguous byte range.
    fn for_condition(kc: &KeyCondition, exclusive_start: Option<Vec<u8>>) -> Bounds {
        let mut prefix = Vec::new();
        encode_key_attr(&kc.hash, &mut prefix);
        let with = |v: &AttributeValue| {
            let mut k = prefix.clone();
            encode_key_attr(v, &mut k);
            k
        };
        let (lower, upper) = match kc.range.as_ref().map(|(_, c)| c) {
            None => (Bound::Included(prefix.clone()), successor(&prefix)),
            Some(RangeCond::Eq(v)) => (Bound::Included(with(v)), successor(&with(v))),
            Some(RangeCond::Lt(v)) => (Bound::Included(prefix.clone()), Bound::Excluded(with(v))),
            Some(RangeCond::Le(v)) => (Bound::Included(prefix.clone()), successor(&with(v))),
            Some(RangeCond::Gt(v)) => (successor(&with(v)), successor(&prefix)),
            Some(RangeCond::Ge(v)) => (Bound::Included(with(v)), successor(&prefix)),
            Some(RangeCond::Between(a, b)) => (Bound::Included(with(a)), successor(&with(b))),
            Some(RangeCond::BeginsWith(v)) => {
                let mut k = prefix.clone();
                encode_prefix(v, &mut k);
                (Bound::Included(k.clone()), successor(&k))
            }
        };
        // `successor` gives an exclusive bound; as a lower bound it means "from there on".
        let lower = match lower {
            Bound::Excluded(k) if matches!(kc.range, Some((_, RangeCond::Gt(_)))) => {
                Bound::Included(k)
            }
            b => b,
        };
        Bounds {
            lower,
            upper,
            exclusive_start,
        }
    }
}

/// One page of a Query or Scan, before filtering.
pub(super) struct Page {
    pub items: Vec<Item>,
    /// Entries evaluated (`ScannedCount`).
    pub scanned: usize,
    pub bytes: usize,
    pub last_key: Option<Item>,
}

/// Which attributes a Query or Scan returns.
pub(super) enum Select {
    All,
    Projected,
    Specific,
    Count,
}

impl Select {
    pub(super) fn returns_items(&self) -> bool {
        !matches!(self, Select::Count)
    }

    pub(super) fn project(&self, exprs: &Exprs, item: Item) -> Item {
        match self {
            Select::Specific => exprs.project(item),
            _ => item,
        }
    }
}

pub(super) fn parse_select(
    select: Option<&str>,
    has_projection: bool,
    on_index: bool,
) -> Result<Select, AwsError> {
    let select = match select {
        None if has_projection => Select::Specific,
        // An index returns what it projects unless told otherwise.
        None if on_index => Select::Projected,
        None => Select::All,
        Some("ALL_ATTRIBUTES") => Select::All,
        Some("ALL_PROJECTED_ATTRIBUTES") => Select::Projected,
        Some("SPECIFIC_ATTRIBUTES") => Select::Specific,
        Some("COUNT") => Select::Count,
        Some(other) => {
            return Err(constraint(
                &Value::String(other.into()),
                "select",
                "Member must satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]",
            ))
        }
    };
    if matches!(select, Select::Projected) && !on_index {
        return Err(AwsError::validation(
            "One or more parameter values were invalid: Select type ALL_PROJECTED_ATTRIBUTES is only supported when querying or scanning an index",
        ));
    }
    match (&select, has_projection) {
        (Select::Specific, false) => Err(AwsError::validation(
            "1 validation error detected: SPECIFIC_ATTRIBUTES requires ProjectionExpression or AttributesToGet",
        )),
        (Select::All | Select::Projected | Select::Count, true) => Err(AwsError::validation(format!(
            "Cannot specify the ProjectionExpression when choosing to get {}",
            match select {
                Select::All => "ALL_ATTRIBUTES",
                Select::Projected => "ALL_PROJECTED_ATTRIBUTES",
                _ => "COUNT",
            }
        ))),
        _ => Ok(select),
    }
}

/// A stable segment number for parallel scans: all items of a partition share a segment.
pub(super) fn segment_of(item: &Item, t: &TableMeta) -> u64 {
    let mut enc = Vec::new();
    if let Some(v) = item.get(&t.key_schema.hash.name) {
        encode_key_attr(v, &mut enc);
    }
    tributary_model::keyenc::key_hash(&enc)
}

pub(super) fn query(
    app: &DynamoDb,
    input: types::QueryInput,
    body: &Map<String, Value>,
) -> Result<types::QueryOutput, AwsError> {
    let name = table_name_of(&input.table_name)?;
    let t = lookup(app, name)?;
    reject_legacy(&[
        ("KeyConditions", input.key_conditions.is_some()),
        ("QueryFilter", input.query_filter.is_some()),
        ("AttributesToGet", input.attributes_to_get.is_some()),
        ("ConditionalOperator", input.conditional_operator.is_some()),
    ])?;
    let mode = capacity_mode(input.return_consumed_capacity.as_deref())?;
    let consistent = input.consistent_read.unwrap_or(false);
    if let Some(l) = input.limit {
        check_range(l.into(), 1, i64::MAX, "limit")?;
    }
    let forward = input.scan_index_forward.unwrap_or(true);
    let source = Source::resolve(&t, input.index_name.as_deref(), consistent)?;
    let exprs = Exprs::parse(
        Texts {
            key_condition: input.key_condition_expression.as_deref(),
            filter: input.filter_expression.as_deref(),
            projection: input.projection_expression.as_deref(),
            names: input.expression_attribute_names.as_ref(),
            values: raw(body, "ExpressionAttributeValues"),
            ..Texts::default()
        },
        Some(source.key_schema()),
    )?;
    let kc = exprs.key_condition().ok_or_else(|| {
        AwsError::validation("Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.")
    })?;
    let select = parse_select(
        input.select.as_deref(),
        exprs.has_projection(),
        source.index.is_some(),
    )?;
    if let (Select::All, Some(ix)) = (&select, source.is_index_without_all()) {
        if ix.global {
            return Err(AwsError::validation(format!(
                "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index {} because its projection type is not ALL",
                ix.name
            )));
        }
    }
    let start = match raw(body, "ExclusiveStartKey") {
        Some(v) => Some(source.start_key(&t, v)?),
        None => None,
    };
    let page = source.read_page(
        app,
        &t,
        Bounds::for_condition(kc, start),
        !forward,
        input.limit.map(|l| l as usize),
        |_| true,
    )?;
    let mut items = Vec::new();
    let mut count = 0;
    for mut item in page.items {
        let wants_more = matches!(select, Select::All | Select::Specific);
        let local_partial = source.is_index_without_all().is_some_and(|i| !i.global);
        if wants_more && local_partial {
            // A local index fetches what it does not project from the table.
            let mut key = Vec::new();
            for a in std::iter::once(&t.key_schema.hash).chain(t.key_schema.range.as_ref()) {
                if let Some(v) = item.get(&a.name) {
                    encode_key_attr(v, &mut key);
                }
            }
            if let Some(full) = app.store.get_item(t.id, &key)? {
                item = full;
            }
        }
        if exprs.keep(&item) {
            count += 1;
            if select.returns_items() {
                items.push(item_into_wire(select.project(&exprs, item)));
            }
        }
    }
    Ok(types::QueryOutput {
        items: select.returns_items().then_some(items),
        count: Some(count),
        scanned_count: Some(page.scanned as i32),
        last_evaluated_key: page.last_key.map(item_into_wire),
        consumed_capacity: read_consumed(
            mode,
            name,
            read_units(page.bytes, consistent),
            source.index.as_ref(),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(v: &str) -> AttributeValue {
        AttributeValue::N(v.into())
    }

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.into())
    }

    fn contains(b: &Bounds, key: &[u8]) -> bool {
        let lo = match &b.lower {
            Bound::Included(k) => key >= k.as_slice(),
            Bound::Excluded(k) => key > k.as_slice(),
            Bound::Unbounded => true,
        };
        let hi = match &b.upper {
            Bound::Included(k) => key <= k.as_slice(),
            Bound::Excluded(k) => key < k.as_slice(),
            Bound::Unbounded => true,
        };
        lo && hi
    }

    /// Every range condition selects exactly the sort keys it names, within one partition.
    #[test]
    fn bounds_select_exactly_the_matching_sort_keys() {
        let sort_keys = ["-5", "0", "1", "1.5", "2", "10", "100"];
        let encoded = |pk: &str, sk: &str| {
            let mut k = Vec::new();
            encode_key_attr(&s(pk), &mut k);
            encode_key_attr(&n(sk), &mut k);
            k
        };
        let cases: Vec<(RangeCond, Vec<&str>)> = vec![
            (RangeCond::Eq(n("1.5")), vec!["1.5"]),
            (RangeCond::Lt(n("1.5")), vec!["-5", "0", "1"]),
            (RangeCond::Le(n("1.5")), vec!["-5", "0", "1", "1.5"]),
            (RangeCond::Gt(n("1.5")), vec!["2", "10", "100"]),
            (RangeCond::Ge(n("2")), vec!["2", "10", "100"]),
            (
                RangeCond::Between(n("0"), n("2")),
                vec!["0", "1", "1.5", "2"],
            ),
        ];
        for (cond, want) in cases {
            let kc = KeyCondition {
                hash_key: "pk".into(),
                hash: s("p"),
                range: Some(("sk".into(), cond.clone())),
            };
            let b = Bounds::for_condition(&kc, None);
            let got: Vec<&str> = sort_keys
                .iter()
                .copied()
                .filter(|sk| contains(&b, &encoded("p", sk)))
                .collect();
            assert_eq!(got, want, "{cond:?}");
            // Other partitions are never selected.
            assert!(!sort_keys
                .iter()
                .any(|sk| contains(&b, &encoded("q", sk)) || contains(&b, &encoded("", sk))));
        }
    }

    #[test]
    fn begins_with_selects_string_prefixes() {
        let enc = |sk: &str| {
            let mut k = Vec::new();
            encode_key_attr(&s("p"), &mut k);
            encode_key_attr(&s(sk), &mut k);
            k
        };
        let kc = KeyCondition {
            hash_key: "pk".into(),
            hash: s("p"),
            range: Some(("sk".into(), RangeCond::BeginsWith(s("ab")))),
        };
        let b = Bounds::for_condition(&kc, None);
        let got: Vec<&str> = ["a", "ab", "abc", "abd", "ac", "b"]
            .into_iter()
            .filter(|k| contains(&b, &enc(k)))
            .collect();
        assert_eq!(got, vec!["ab", "abc", "abd"]);
    }

    #[test]
    fn segments_spread_partitions() {
        let t_keys = |pk: &str| -> Item { [("pk".to_string(), s(pk))].into_iter().collect() };
        let table = TableMeta {
            name: "t".into(),
            id: 1,
            arn: String::new(),
            table_id_uuid: String::new(),
            key_schema: KeySchema {
                hash: tributary_store::KeyAttr {
                    name: "pk".into(),
                    ty: "S".into(),
                },
                range: None,
            },
            attribute_definitions: vec![],
            billing_mode: String::new(),
            read_capacity: 0,
            write_capacity: 0,
            created_ms: 0,
            stream_arn: None,
            latest_stream_arn: None,
            latest_stream_label: None,
            item_count: 0,
            size_bytes: 0,
            indexes: vec![],
            ttl_attribute: None,
            tags: Default::default(),
            extra: Default::default(),
        };
        let mut counts = [0usize; 4];
        for i in 0..400 {
            counts[(segment_of(&t_keys(&format!("user{i}")), &table) % 4) as usize] += 1;
        }
        assert!(counts.iter().all(|c| (60..140).contains(c)), "{counts:?}");
    }
}
