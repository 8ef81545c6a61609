//! What the server knows about a connected client (CLIENT LIST / INFO / SETNAME / SETINFO).

use std::net::SocketAddr;
use std::time::Instant;

/// One client connection's descriptive state.
#[derive(Debug)]
pub struct ClientInfo {
    /// Unique id (CLIENT ID).
    pub id: u64,
    /// Peer address.
    pub addr: SocketAddr,
    /// Local address.
    pub laddr: SocketAddr,
    /// File descriptor.
    pub fd: i32,
    /// CLIENT SETNAME.
    pub name: String,
    /// The API key name the connection authenticated with (`default` before).
    pub user: String,
    /// CLIENT SETINFO LIB-NAME.
    pub lib_name: String,
    /// CLIENT SETINFO LIB-VER.
    pub lib_ver: String,
    /// Protocol version (2 or 3).
    pub resp: u8,
    /// When the connection was accepted.
    pub created: Instant,
    /// When the last command ran.
    pub last_cmd_at: Instant,
    /// Name of the last command.
    pub last_cmd: &'static str,
    /// Shard serving the connection.
    pub shard: usize,
    /// Bytes in the query buffer.
    pub qbuf: usize,
    /// Total bytes read.
    pub tot_net_in: u64,
    /// Total bytes written.
    pub tot_net_out: u64,
    /// Total commands.
    pub tot_cmds: u64,
    /// Blocked in a blocking command (`flags=b`).
    pub blocked: bool,
}

impl ClientInfo {
    /// A new client.
    pub fn new(id: u64, addr: SocketAddr, laddr: SocketAddr, fd: i32, shard: usize) -> ClientInfo {
        let now = Instant::now();
        ClientInfo {
            id,
            addr,
            laddr,
            fd,
            name: String::new(),
            user: "default".into(),
            lib_name: String::new(),
            lib_ver: String::new(),
            resp: 2,
            created: now,
            last_cmd_at: now,
            last_cmd: "NULL",
            shard,
            qbuf: 0,
            tot_net_in: 0,
            tot_net_out: 0,
            tot_cmds: 0,
            blocked: false,
        }
    }

    /// The CLIENT LIST / CLIENT INFO line (Redis 7 fields, plus `shard`).
    pub fn line(&self) -> String {
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db=0 sub=0 psub=0 ssub=0 multi=-1 watch=0 qbuf={} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user={} redir=-1 resp={} lib-name={} lib-ver={} tot-net-in={} tot-net-out={} tot-cmds={} shard={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            self.name,
            self.created.elapsed().as_secs(),
            self.last_cmd_at.elapsed().as_secs(),
            if self.blocked { "b" } else { "N" },
            self.qbuf,
            self.last_cmd,
            self.user,
            self.resp,
            self.lib_name,
            self.lib_ver,
            self.tot_net_in,
            self.tot_net_out,
            self.tot_cmds,
            self.shard
        )
    }
}
