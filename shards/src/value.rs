//! The values a key can hold: strings, hashes, sets, lists and sorted sets, each aggregate
//! with its own compact encodings.

use crate::blob::Blob;
use crate::hash::HashValue;
use crate::list::ListValue;
use crate::set::SetValue;
use crate::zset::ZsetValue;

/// A stored value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A binary-safe string.
    Str(Blob),
    /// A hash of fields to values.
    Hash(HashValue),
    /// A set of members.
    Set(SetValue),
    /// A list (packed chunks: O(1) at both ends).
    List(Box<ListValue>),
    /// A sorted set.
    Zset(Box<ZsetValue>),
}

/// The type of a value, as TYPE and SCAN TYPE name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    /// `string`
    String,
    /// `hash`
    Hash,
    /// `set`
    Set,
    /// `list`
    List,
    /// `zset`
    Zset,
}

impl ValueType {
    /// The name Redis uses.
    pub fn name(self) -> &'static str {
        match self {
            ValueType::String => "string",
            ValueType::Hash => "hash",
            ValueType::Set => "set",
            ValueType::List => "list",
            ValueType::Zset => "zset",
        }
    }

    /// Parses a type name (case-insensitive), as SCAN TYPE accepts it.
    pub fn parse(name: &[u8]) -> Option<ValueType> {
        if name.eq_ignore_ascii_case(b"string") {
            Some(ValueType::String)
        } else if name.eq_ignore_ascii_case(b"hash") {
            Some(ValueType::Hash)
        } else if name.eq_ignore_ascii_case(b"set") {
            Some(ValueType::Set)
        } else if name.eq_ignore_ascii_case(b"list") {
            Some(ValueType::List)
        } else if name.eq_ignore_ascii_case(b"zset") {
            Some(ValueType::Zset)
        } else {
            None
        }
    }
}

/// Typed views of a value: `as_x` / `as_x_mut` give the inner value when the variant matches,
/// `new_x` makes an empty one (command families pass these to their generic accessors).
macro_rules! typed {
    ($variant:ident, $ty:ty, $as:ident, $as_mut:ident, $new:ident) => {
        /// The inner value when this is the matching variant.
        pub fn $as(&self) -> Option<&$ty> {
            match self {
                Value::$variant(v) => Some(v),
                _ => None,
            }
        }

        /// The inner value, mutably, when this is the matching variant.
        pub fn $as_mut(&mut self) -> Option<&mut $ty> {
            match self {
                Value::$variant(v) => Some(v),
                _ => None,
            }
        }

        /// An empty value of this variant.
        pub fn $new() -> Value {
            Value::$variant(Default::default())
        }
    };
}

impl Value {
    typed!(Hash, HashValue, as_hash, as_hash_mut, new_hash);
    typed!(Set, SetValue, as_set, as_set_mut, new_set);
    typed!(List, ListValue, as_list, as_list_mut, new_list);
    typed!(Zset, ZsetValue, as_zset, as_zset_mut, new_zset);

    /// This value's type.
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::Str(_) => ValueType::String,
            Value::Hash(_) => ValueType::Hash,
            Value::Set(_) => ValueType::Set,
            Value::List(_) => ValueType::List,
            Value::Zset(_) => ValueType::Zset,
        }
    }

    /// The encoding OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(b) => {
                if b.len() <= 20 && crate::strings::parse_i64(b).is_some() {
                    "int"
                } else if b.len() <= 44 {
                    "embstr"
                } else {
                    "raw"
                }
            }
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::List(l) => l.encoding(),
            Value::Zset(z) => z.encoding(),
        }
    }

    /// Whether this is an aggregate with no elements (such keys are deleted).
    pub fn is_empty_aggregate(&self) -> bool {
        match self {
            Value::Str(_) => false,
            Value::Hash(h) => h.is_empty(),
            Value::Set(s) => s.is_empty(),
            Value::List(l) => l.is_empty(),
            Value::Zset(z) => z.is_empty(),
        }
    }

    /// Elements in an aggregate (1 for a string).
    pub fn elements(&self) -> usize {
        match self {
            Value::Str(_) => 1,
            Value::Hash(h) => h.len(),
            Value::Set(s) => s.len(),
            Value::List(l) => l.len(),
            Value::Zset(z) => z.len(),
        }
    }

    /// Drops up to `n` elements of an aggregate; returns (dropped, whether nothing is left).
    /// Used by lazy free to release a huge value in slices.
    pub fn drop_some(&mut self, n: usize) -> (usize, bool) {
        match self {
            Value::List(l) => l.drop_some(n),
            Value::Set(s) => s.drop_some(n),
            Value::Hash(h) => h.drop_some(n),
            Value::Zset(z) => z.drop_some(n),
            Value::Str(_) => (1, true),
        }
    }

    /// Heap bytes owned by this value (used by memory accounting).
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Str(b) => b.heap_size(),
            Value::Hash(h) => h.heap_size(),
            Value::Set(s) => s.heap_size(),
            Value::List(l) => std::mem::size_of::<ListValue>() + l.heap_size(),
            Value::Zset(z) => std::mem::size_of::<ZsetValue>() + z.heap_size(),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn entries_stay_small() {
        assert_eq!(std::mem::size_of::<super::Value>(), 24);
        assert_eq!(std::mem::size_of::<crate::Entry>(), 32);
        assert_eq!(std::mem::size_of::<crate::list::ListValue>(), 32);
        assert_eq!(std::mem::size_of::<crate::hash::HashValue>(), 16);
        assert_eq!(std::mem::size_of::<crate::set::SetValue>(), 16);
    }
}
