//! Statuses returned by shard operations. The connection layer renders them (RESP error text
//! lives in the server's `errors` module, not here).

/// Why a shard operation did not produce a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpError {
    /// The key holds a value of another type.
    WrongType,
    /// The value (or argument) is not an integer or out of range.
    NotInteger,
    /// The value (or argument) is not a valid float.
    NotFloat,
    /// Increment or decrement would overflow.
    Overflow,
    /// The result would be NaN or infinity.
    NanOrInfinity,
    /// The resulting string would exceed the maximum size.
    StringTooLong,
    /// The key does not exist (where that is an error, e.g. RENAME).
    NoSuchKey,
    /// An offset argument is out of range.
    OutOfRange,
}
