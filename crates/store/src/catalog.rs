//! The control-plane state kept in memory and mirrored, entity by entity, in the `meta` table:
//! DynamoDB tables, their streams and shards, and opaque documents of other services
//! (functions, event source mappings, checkpoints) that the store keeps but does not interpret.

use std::borrow::Borrow;
use std::ops::RangeBounds;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tributary_model::attr::Item;
use tributary_model::stream::StreamViewType;

/// A key attribute: name and scalar type (`S`, `N` or `B`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyAttr {
    pub name: String,
    pub ty: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySchema {
    pub hash: KeyAttr,
    pub range: Option<KeyAttr>,
}

/// Which attributes a secondary index holds besides the keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Projection {
    KeysOnly,
    Include(Vec<String>),
    All,
}

/// A global or local secondary index of a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexMeta {
    pub name: String,
    /// Internal id; prefixes the index's entries. Never reused.
    pub id: u64,
    pub global: bool,
    pub key_schema: KeySchema,
    pub projection: Projection,
    pub read_capacity: i64,
    pub write_capacity: i64,
    #[serde(default)]
    pub item_count: i64,
    #[serde(default)]
    pub size_bytes: i64,
    /// While the index is being filled from the table's items (a GSI added by UpdateTable): the
    /// table key (after the table id) of the next item still to index. Items before it are in
    /// the index and kept in step by every write; items from it on are indexed when the backfill
    /// reaches them. `None` once the index is complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backfill: Option<Vec<u8>>,
}

impl IndexMeta {
    /// Whether the index is still being filled.
    pub fn backfilling(&self) -> bool {
        self.backfill.is_some()
    }

    /// Whether writes of the item at table key `key` already go to this index.
    pub fn covers(&self, key: &[u8]) -> bool {
        self.backfill.as_deref().is_none_or(|next| key < next)
    }

    /// The index's view of an item, or `None` if the item lacks the index keys (sparse).
    pub fn project(&self, table_keys: &KeySchema, item: &Item) -> Option<Item> {
        let mut out = Item::new();
        for k in std::iter::once(&self.key_schema.hash).chain(self.key_schema.range.as_ref()) {
            let v = item.get(&k.name)?;
            if v.type_name() != k.ty {
                return None;
            }
            out.insert(k.name.clone(), v.clone());
        }
        for k in std::iter::once(&table_keys.hash).chain(table_keys.range.as_ref()) {
            if let Some(v) = item.get(&k.name) {
                out.insert(k.name.clone(), v.clone());
            }
        }
        match &self.projection {
            Projection::KeysOnly => {}
            Projection::All => return Some(item.clone()),
            Projection::Include(attrs) => {
                for a in attrs {
                    if let Some(v) = item.get(a) {
                        out.insert(a.clone(), v.clone());
                    }
                }
            }
        }
        Some(out)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableMeta {
    pub name: String,
    /// Internal id; prefixes the table's item keys. Never reused.
    pub id: u64,
    pub arn: String,
    pub table_id_uuid: String,
    pub key_schema: KeySchema,
    pub attribute_definitions: Vec<KeyAttr>,
    pub billing_mode: String,
    pub read_capacity: i64,
    pub write_capacity: i64,
    pub created_ms: i64,
    /// The stream currently receiving changes, if streams are enabled.
    pub stream_arn: Option<String>,
    /// The last stream the table ever had (kept after disabling).
    pub latest_stream_arn: Option<String>,
    pub latest_stream_label: Option<String>,
    pub item_count: i64,
    pub size_bytes: i64,
    #[serde(default)]
    pub indexes: Vec<IndexMeta>,
    /// The attribute holding expiry times (epoch seconds) while TTL is enabled.
    #[serde(default)]
    pub ttl_attribute: Option<String>,
    #[serde(default)]
    pub tags: std::collections::BTreeMap<String, String>,
    /// Everything else of the create request that DescribeTable echoes (indexes, tags, ...).
    #[serde(default)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardMeta {
    pub shard_id: String,
    /// Internal id; prefixes the shard's record keys.
    pub iid: u64,
    pub parent_shard_id: Option<String>,
    pub start_seq: u128,
    /// Set once the shard is closed.
    pub end_seq: Option<u128>,
    pub created_ms: i64,
    /// The slice of the key-hash space whose items this shard receives (inclusive bounds).
    /// Children cover their parent's slice, so an item always moves to a child of its shard.
    #[serde(default)]
    pub hash_lo: u64,
    #[serde(default = "max_hash")]
    pub hash_hi: u64,
    /// When the shard closed (server clock); `None` while open.
    #[serde(default)]
    pub closed_ms: Option<i64>,
    /// The highest sequence number removed by retention trimming; iterators at or below it
    /// point at trimmed data.
    #[serde(default)]
    pub trimmed_to: Option<u128>,
}

fn max_hash() -> u64 {
    u64::MAX
}

impl ShardMeta {
    pub fn covers(&self, hash: u64) -> bool {
        self.hash_lo <= hash && hash <= self.hash_hi
    }

    /// A closed shard whose every record is older than `cutoff_ms` has been trimmed away
    /// entirely and is no longer part of the stream's description.
    pub fn expired(&self, cutoff_ms: i64) -> bool {
        self.closed_ms.is_some_and(|c| c < cutoff_ms)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamMeta {
    pub arn: String,
    pub label: String,
    pub table_name: String,
    pub table_id: u64,
    pub view_type: StreamViewType,
    pub enabled: bool,
    pub created_ms: i64,
    pub key_schema: KeySchema,
    pub shards: Vec<ShardMeta>,
    /// When the stream was disabled (server clock); it stays readable for the retention period.
    #[serde(default)]
    pub disabled_ms: Option<i64>,
}

impl StreamMeta {
    /// The open shard that receives the records of items whose key hashes to `hash`.
    pub fn open_shard_for(&self, hash: u64) -> Option<&ShardMeta> {
        self.shards
            .iter()
            .rev()
            .find(|s| s.end_seq.is_none() && s.covers(hash))
    }

    pub fn open_shards(&self) -> impl Iterator<Item = &ShardMeta> {
        self.shards.iter().filter(|s| s.end_seq.is_none())
    }

    /// A disabled stream whose records have all passed the retention period is gone.
    pub fn expired(&self, cutoff_ms: i64) -> bool {
        !self.enabled && self.disabled_ms.is_some_and(|d| d < cutoff_ms)
    }

    pub fn shard(&self, shard_id: &str) -> Option<&ShardMeta> {
        self.shards.iter().find(|s| s.shard_id == shard_id)
    }
}

/// Everything the control plane knows, keyed for quick lookup.
///
/// Readers get an immutable snapshot ([`crate::Store::catalog`]); cloning one is O(1).
#[derive(Debug, Default, Clone)]
pub struct Catalog {
    pub tables: CowMap<String, TableMeta>,
    /// By stream ARN, including disabled streams of deleted tables.
    pub streams: CowMap<String, StreamMeta>,
    /// Opaque documents by (kind, id).
    pub docs: CowMap<(String, String), serde_json::Value>,
    pub next_id: u64,
    pub next_seq: u128,
}

impl Catalog {
    pub fn docs_of<'a>(
        &'a self,
        kind: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a serde_json::Value)> + 'a {
        self.docs
            .range((kind.to_owned(), String::new())..)
            .take_while(move |((k, _), _)| k == kind)
            .map(|((_, id), v)| (id.as_str(), v))
    }

    pub fn doc(&self, kind: &str, id: &str) -> Option<&serde_json::Value> {
        self.docs.get(&(kind.to_owned(), id.to_owned()))
    }
}

/// An ordered map whose clone is O(1): the values sit behind `Arc`s in a persistent B-tree,
/// so the writer can publish a new [`Catalog`] snapshot after every commit while readers keep
/// theirs, and a mutation copies only the path to the entry it changes.
#[derive(Debug)]
pub struct CowMap<K: Ord + Clone, V>(imbl::OrdMap<K, Arc<V>>);

impl<K: Ord + Clone, V> Clone for CowMap<K, V> {
    fn clone(&self) -> Self {
        CowMap(self.0.clone())
    }
}

impl<K: Ord + Clone, V> Default for CowMap<K, V> {
    fn default() -> Self {
        CowMap(imbl::OrdMap::new())
    }
}

impl<K: Ord + Clone, V: Clone> CowMap<K, V> {
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.0.get(key).map(|v| &**v)
    }

    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.0.contains_key(key)
    }

    /// The entry for changing in place; only this snapshot sees the change.
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.0.get_mut(key).map(Arc::make_mut)
    }

    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        self.0
            .insert(key, Arc::new(value))
            .map(Arc::unwrap_or_clone)
    }

    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.0.remove(key).map(Arc::unwrap_or_clone)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> + '_ {
        self.0.iter().map(|(k, v)| (k, &**v))
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + '_ {
        self.0.keys()
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + '_ {
        self.0.values().map(|v| &**v)
    }

    pub fn range<R, Q>(&self, range: R) -> impl DoubleEndedIterator<Item = (&K, &V)> + '_
    where
        R: RangeBounds<Q>,
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.0.range(range).map(|(k, v)| (k, &**v))
    }
}
