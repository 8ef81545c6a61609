//! The Redis protocol: [`parse`] frames requests (multibulk and inline) out of a connection's
//! read buffer; [`reply`] encodes replies in RESP2 or RESP3; [`read`] walks encoded replies
//! (used to merge replies from several shards and to render them as JSON for HTTP).

pub mod parse;
pub mod read;
pub mod reply;

pub use parse::{Limits, Parsed, Parser, ProtoError};
pub use reply::Reply;
