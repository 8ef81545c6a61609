//! Every error text Synap replies with, in one place, each with the short code that labels its
//! counter (INFO `errorstats`, the `synap_errors_total{kind=…}` metric).

use synap_shard::OpError;

/// The code at the start of an error reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// `ERR`
    Err,
    /// `WRONGTYPE`
    WrongType,
    /// `OOM`
    Oom,
    /// `NOPROTO`
    NoProto,
    /// `READONLY`
    ReadOnly,
    /// `NOAUTH`
    NoAuth,
    /// `WRONGPASS`
    WrongPass,
    /// `UNBLOCKED` (a blocked client released by CLIENT UNBLOCK … ERROR)
    Unblocked,
    /// `MISCONF`
    Misconf,
    /// `LOADING`
    Loading,
    /// `NOPERM`
    NoPerm,
}

impl ErrorCode {
    /// Every code, in a fixed order (indexes per-shard counters).
    pub const ALL: [ErrorCode; 11] = [
        ErrorCode::Err,
        ErrorCode::WrongType,
        ErrorCode::Oom,
        ErrorCode::NoProto,
        ErrorCode::ReadOnly,
        ErrorCode::NoAuth,
        ErrorCode::WrongPass,
        ErrorCode::Unblocked,
        ErrorCode::Misconf,
        ErrorCode::Loading,
        ErrorCode::NoPerm,
    ];

    /// The label, as it appears in the reply and in metrics.
    pub fn label(self) -> &'static str {
        match self {
            ErrorCode::Err => "ERR",
            ErrorCode::WrongType => "WRONGTYPE",
            ErrorCode::Oom => "OOM",
            ErrorCode::NoProto => "NOPROTO",
            ErrorCode::ReadOnly => "READONLY",
            ErrorCode::NoAuth => "NOAUTH",
            ErrorCode::WrongPass => "WRONGPASS",
            ErrorCode::Unblocked => "UNBLOCKED",
            ErrorCode::Misconf => "MISCONF",
            ErrorCode::Loading => "LOADING",
            ErrorCode::NoPerm => "NOPERM",
        }
    }

    /// Index into [`ErrorCode::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

pub const MISCONF: &str = "MISCONF Errors writing to the AOF file: writes are refused until it can be written again (see the server log)";
pub const READONLY: &str = "READONLY You can't write against a read only replica.";
pub const LOADING: &str = "LOADING Synap is loading the dataset in memory";
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
pub const NAN_OR_INF: &str = "ERR increment would produce NaN or Infinity";
pub const SYNTAX: &str = "ERR syntax error";
pub const NO_SUCH_KEY: &str = "ERR no such key";
pub const STRING_TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
pub const OFFSET_OUT_OF_RANGE: &str = "ERR offset is out of range";
pub const INVALID_EXPIRE: &str = "ERR invalid expire time in '{}' command";
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
pub const INVALID_CURSOR: &str = "ERR invalid cursor";
pub const DB_INDEX: &str = "ERR DB index is out of range";
pub const MAX_CLIENTS: &str = "ERR max number of clients reached";
pub const UNBLOCKED: &str = "UNBLOCKED client unblocked via CLIENT UNBLOCK";
pub const TIMEOUT_NOT_FLOAT: &str = "ERR timeout is not a float or out of range";
pub const TIMEOUT_NEGATIVE: &str = "ERR timeout is negative";
pub const NOAUTH: &str = "NOAUTH Authentication required.";
pub const NOAUTH_HELLO: &str = "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time";
pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
pub const NOPERM_KEY: &str =
    "NOPERM this user has no permissions to access one of the keys used as arguments";
pub const AUTH_NOT_CONFIGURED: &str = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?";

/// `NOPERM this user has no permissions to run the 'x' command`
pub fn noperm(full_name: &str) -> String {
    format!("NOPERM this user has no permissions to run the '{full_name}' command")
}

/// `ERR wrong number of arguments for 'x' command`
pub fn arity(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

/// `ERR unknown command 'x', with args beginning with: …`
pub fn unknown_command(name: &[u8], args: &[&[u8]]) -> String {
    let mut s = format!(
        "ERR unknown command '{}', with args beginning with: ",
        String::from_utf8_lossy(&name[..name.len().min(128)])
    );
    for a in args.iter().take(16) {
        s.push('\'');
        s.push_str(&String::from_utf8_lossy(&a[..a.len().min(128)]));
        s.push_str("' ");
    }
    s
}

/// `ERR unknown subcommand 'x'. Try Y HELP.`
pub fn unknown_subcommand(cmd: &str, sub: &[u8]) -> String {
    format!(
        "ERR unknown subcommand '{}'. Try {} HELP.",
        String::from_utf8_lossy(&sub[..sub.len().min(128)]),
        cmd.to_ascii_uppercase()
    )
}

/// The code and text for a shard status.
pub fn op_error(e: OpError) -> (ErrorCode, &'static str) {
    match e {
        OpError::WrongType => (ErrorCode::WrongType, WRONGTYPE),
        OpError::NotInteger => (ErrorCode::Err, NOT_INTEGER),
        OpError::NotFloat => (ErrorCode::Err, NOT_FLOAT),
        OpError::Overflow => (ErrorCode::Err, OVERFLOW),
        OpError::NanOrInfinity => (ErrorCode::Err, NAN_OR_INF),
        OpError::StringTooLong => (ErrorCode::Err, STRING_TOO_LONG),
        OpError::NoSuchKey => (ErrorCode::Err, NO_SUCH_KEY),
        OpError::OutOfRange => (ErrorCode::Err, OFFSET_OUT_OF_RANGE),
    }
}
