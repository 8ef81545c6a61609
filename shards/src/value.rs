//! The values a key can hold. Only strings exist today; hashes, lists, sets and sorted sets
//! join this enum with their own compact encodings.

use crate::blob::Blob;

/// A stored value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A binary-safe string.
    Str(Blob),
}

/// The type of a value, as TYPE and SCAN TYPE name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    /// `string`
    String,
}

impl ValueType {
    /// The name Redis uses.
    pub fn name(self) -> &'static str {
        match self {
            ValueType::String => "string",
        }
    }

    /// Parses a type name (case-insensitive), as SCAN TYPE accepts it.
    pub fn parse(name: &[u8]) -> Option<ValueType> {
        if name.eq_ignore_ascii_case(b"string") {
            Some(ValueType::String)
        } else {
            None
        }
    }
}

impl Value {
    /// This value's type.
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::Str(_) => ValueType::String,
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
        }
    }

    /// Heap bytes owned by this value (used by memory accounting).
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Str(b) => b.heap_size(),
        }
    }
}
