//! The router: decides where each command runs and keeps replies in request order.
//!
//! For one read batch a connection's [`Pipeline`] runs commands whose keys its own shard owns
//! inline, appends commands owned by other shards to one [`Batch`] per destination, and marks
//! their place in the output. [`Pipeline::flush_remote`] sends the batches (one message per
//! destination), waits for every reply and splices them into place. Commands that need several
//! shards (multi-key commands whose keys span shards, SCAN, DBSIZE, …) are barriers: pending
//! batches are flushed first, then they fan out and merge ([`crate::cross`]).

use crate::auth::{self, Denied, Gate};
use crate::commands::{self, CommandSpec, Exec, Split};
use crate::connection::ConnState;
use crate::errors::{self, ErrorCode};
use crate::protocol::Reply;
use crate::shard::{Batch, BatchReply, Msg, Shard};
use futures::channel::oneshot;
use std::rc::Rc;

/// What the connection must do after [`Pipeline::dispatch`].
pub enum Step {
    /// The command was run or queued.
    Done,
    /// The command needs several shards: flush, then [`Pipeline::run_async`].
    Async(usize, &'static CommandSpec),
    /// The command may block the client: flush, then [`crate::blocking::start`].
    Block(usize, crate::blocking::PrepareFn),
}

#[derive(Default)]
struct Outgoing {
    data: Vec<u8>,
    args: Vec<(usize, usize)>,
    cmds: Vec<(u16, u32)>,
}

/// Per-connection routing state for one read batch.
pub struct Pipeline {
    out: Vec<u8>,
    spare: Vec<u8>,
    /// (offset in `out`, shard, index in that shard's batch) for each forwarded command.
    pieces: Vec<(usize, usize, usize)>,
    outgoing: Vec<Outgoing>,
    /// Ids of the commands run in this batch (their time is attributed when it ends).
    ran: Vec<u16>,
}

impl Pipeline {
    /// A pipeline for a server with `nshards` shards.
    pub fn new(nshards: usize) -> Pipeline {
        Pipeline {
            out: Vec::with_capacity(16 * 1024),
            spare: Vec::new(),
            pieces: Vec::new(),
            outgoing: (0..nshards).map(|_| Outgoing::default()).collect(),
            ran: Vec::new(),
        }
    }

    /// The output buffer (replies are appended here).
    pub fn out_mut(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }

    /// Bytes of replies buffered so far in this batch (local replies plus what forwarded
    /// commands will add is not known until they return).
    pub fn pending_output(&self) -> usize {
        self.out.len()
    }

    /// Forwarded commands waiting for their replies.
    pub fn pending_remote(&self) -> usize {
        self.pieces.len()
    }

    /// The replies of this batch, complete and in order (after `flush_remote`).
    pub fn take_output(&self) -> &[u8] {
        &self.out
    }

    /// Attributes `per_cmd_us` of execution time to every command of the batch that just
    /// ended (INFO commandstats `usec`), and forgets them.
    pub fn account_time(&mut self, shard: &Shard, per_cmd_us: f64) {
        let mut st = shard.stats.borrow_mut();
        for &id in &self.ran {
            st.commands[id as usize].usec += per_cmd_us;
        }
        self.ran.clear();
    }

    /// Empties the output for the next batch, keeping its allocation unless it grew large.
    pub fn clear_output(&mut self) {
        if self.out.capacity() > 4 * 1024 * 1024 {
            self.out = Vec::with_capacity(16 * 1024);
        } else {
            self.out.clear();
        }
    }

    /// Routes one command: runs it here, queues it for its shard, or asks for the async path.
    #[inline]
    pub fn dispatch(&mut self, conn: &mut ConnState, argv: &[&[u8]], now: u64) -> Step {
        let shard = &conn.shard;
        let Some((id, spec)) = commands::lookup(argv[0]) else {
            let mut r = Reply::new(&mut self.out, conn.resp3);
            r.error(
                ErrorCode::Err,
                &errors::unknown_command(argv[0], &argv[1..]),
            );
            shard.stats.borrow_mut().errors[ErrorCode::Err.index()] += 1;
            return Step::Done;
        };
        {
            let mut st = shard.stats.borrow_mut();
            let c = &mut st.commands[id];
            if !spec.arity_ok(argv.len()) {
                c.rejected += 1;
                st.errors[ErrorCode::Err.index()] += 1;
                drop(st);
                Reply::new(&mut self.out, conn.resp3)
                    .error(ErrorCode::Err, &errors::arity(spec.name));
                return Step::Done;
            }
            // Authentication: nothing to check while no API key exists.
            if !matches!(conn.auth.gate, Gate::Open) {
                if let Err(d) = auth::permit(&conn.auth.gate, spec, argv) {
                    c.rejected += 1;
                    let (code, msg) = match d {
                        Denied::NoAuth => (ErrorCode::NoAuth, errors::NOAUTH.to_string()),
                        Denied::Command(name) => (ErrorCode::NoPerm, errors::noperm(&name)),
                        Denied::Key => (ErrorCode::NoPerm, errors::NOPERM_KEY.to_string()),
                    };
                    st.errors[code.index()] += 1;
                    drop(st);
                    Reply::new(&mut self.out, conn.resp3).error(code, &msg);
                    return Step::Done;
                }
            }
            if shard
                .global
                .load
                .loading
                .load(std::sync::atomic::Ordering::Relaxed)
                && !spec.has(commands::flags::LOADING)
            {
                c.rejected += 1;
                st.errors[ErrorCode::Loading.index()] += 1;
                drop(st);
                Reply::new(&mut self.out, conn.resp3).error(ErrorCode::Loading, errors::LOADING);
                return Step::Done;
            }
            if spec.has(commands::flags::WRITE)
                && shard.global.repl.is_replica()
                && shard.global.config.replication.replica_read_only
            {
                c.rejected += 1;
                st.errors[ErrorCode::ReadOnly.index()] += 1;
                drop(st);
                Reply::new(&mut self.out, conn.resp3).error(ErrorCode::ReadOnly, errors::READONLY);
                return Step::Done;
            }
            c.calls += 1;
        }
        self.ran.push(id as u16);
        conn.info.borrow_mut().last_cmd = spec.name;
        match spec.exec {
            Exec::Conn(f) => {
                let mut r = Reply::new(&mut self.out, conn.resp3);
                f(conn, argv, &mut r);
                if let Some(code) = r.errors {
                    let mut st = conn.shard.stats.borrow_mut();
                    st.errors[code.index()] += 1;
                    st.commands[id].failed += 1;
                }
                Step::Done
            }
            Exec::Global(_) => Step::Async(id, spec),
            Exec::Block(prepare) => Step::Block(id, prepare),
            Exec::Shard(_, _) => {
                let owner = match owner_of(shard, spec, argv) {
                    Owner::One(s) => s,
                    Owner::Many => return Step::Async(id, spec),
                };
                if owner == shard.id {
                    let mut r = Reply::new(&mut self.out, conn.resp3);
                    shard.exec_local(id, spec, argv, now, &mut r);
                } else {
                    let o = &mut self.outgoing[owner];
                    for a in argv {
                        let s = o.data.len();
                        o.data.extend_from_slice(a);
                        o.args.push((s, o.data.len()));
                    }
                    o.cmds.push((id as u16, argv.len() as u32));
                    self.pieces.push((self.out.len(), owner, o.cmds.len() - 1));
                }
                Step::Done
            }
        }
    }

    /// Sends every queued batch, waits for the replies and splices them into the output.
    pub async fn flush_remote(&mut self, shard: &Rc<Shard>, resp3: bool) {
        if self.pieces.is_empty() {
            return;
        }
        let mut waits: Vec<(usize, oneshot::Receiver<BatchReply>)> = Vec::new();
        let mut forwarded = 0;
        for (dest, o) in self.outgoing.iter_mut().enumerate() {
            if o.cmds.is_empty() {
                continue;
            }
            let (tx, rx) = oneshot::channel();
            forwarded += o.cmds.len();
            let batch = Batch {
                resp3,
                data: std::mem::take(&mut o.data),
                args: std::mem::take(&mut o.args),
                cmds: std::mem::take(&mut o.cmds),
                reply: tx,
            };
            if let Some(Some(peer)) = shard.peers.get(dest) {
                // A send fails only when the destination is gone (shutdown); its replies then
                // become errors below.
                let _ = peer.send(Msg::Batch(batch)).await;
            }
            waits.push((dest, rx));
        }
        {
            let mut st = shard.stats.borrow_mut();
            st.hops_out += forwarded as u64;
            st.hop_batches_out += waits.len() as u64;
        }
        let mut replies: Vec<Option<BatchReply>> = (0..self.outgoing.len()).map(|_| None).collect();
        for (dest, rx) in waits {
            replies[dest] = rx.await.ok();
        }
        let mut merged = std::mem::take(&mut self.spare);
        merged.clear();
        let mut last = 0;
        for &(pos, dest, idx) in &self.pieces {
            merged.extend_from_slice(&self.out[last..pos]);
            last = pos;
            match &replies[dest] {
                Some(r) => {
                    let start = if idx == 0 { 0 } else { r.ends[idx - 1] };
                    merged.extend_from_slice(&r.out[start..r.ends[idx]]);
                }
                None => merged.extend_from_slice(b"-ERR shard unavailable (shutting down)\r\n"),
            }
        }
        merged.extend_from_slice(&self.out[last..]);
        self.spare = std::mem::replace(&mut self.out, merged);
        self.pieces.clear();
    }

    /// Runs one command through the router and returns its encoded reply (the HTTP front end
    /// and internal callers use this; RESP connections stream many commands per batch).
    pub async fn execute_one(&mut self, conn: &mut ConnState, argv: &[&[u8]]) -> Vec<u8> {
        let shard = conn.shard.clone();
        let started = std::time::Instant::now();
        let now = synap_shard::time::now_ms();
        match self.dispatch(conn, argv, now) {
            Step::Done => {}
            Step::Async(id, spec) => {
                self.flush_remote(&shard, conn.resp3).await;
                self.run_async(conn, id, spec, argv).await;
            }
            Step::Block(id, prepare) => {
                // Not a RESP connection: a command that would block answers as on a timeout
                // (like Redis inside MULTI).
                self.flush_remote(&shard, conn.resp3).await;
                if let Some(mut p) = self.run_block(conn, id, prepare, argv, false).await {
                    // Only when another shard claimed it meanwhile: its reply is on the way.
                    let outcome = (&mut p.rx)
                        .await
                        .unwrap_or(crate::blocking::Outcome::Timeout);
                    self.finish_block(conn, id, &p, outcome).await;
                    p.cleanup();
                }
            }
        }
        self.flush_remote(&shard, conn.resp3).await;
        let us = started.elapsed().as_nanos() as f64 / 1000.0;
        self.account_time(&shard, us);
        shard.stats.borrow_mut().record_latency(us, 1);
        let out = self.out.clone();
        self.clear_output();
        out
    }

    /// Starts a blocking command (call after `flush_remote`): its reply is written when it
    /// completes at once, otherwise the caller waits on the returned [`crate::blocking::Pending`].
    pub async fn run_block(
        &mut self,
        conn: &mut ConnState,
        id: usize,
        prepare: crate::blocking::PrepareFn,
        argv: &[&[u8]],
        may_block: bool,
    ) -> Option<crate::blocking::Pending> {
        let client = conn.info.borrow().id;
        let (start, code) = crate::blocking::start(
            &conn.shard,
            client,
            conn.resp3,
            prepare,
            argv,
            may_block,
            &mut self.out,
        )
        .await;
        self.count_failure(conn, id, code);
        match start {
            crate::blocking::Start::Done => None,
            crate::blocking::Start::Wait(p) => Some(p),
        }
    }

    /// Writes the reply of a finished wait.
    pub async fn finish_block(
        &mut self,
        conn: &mut ConnState,
        id: usize,
        pending: &crate::blocking::Pending,
        outcome: crate::blocking::Outcome,
    ) {
        let code = crate::blocking::finish(
            &conn.shard,
            &pending.waiter.req,
            outcome,
            conn.resp3,
            &mut self.out,
        )
        .await;
        self.count_failure(conn, id, code);
    }

    fn count_failure(&self, conn: &ConnState, id: usize, code: Option<ErrorCode>) {
        if let Some(code) = code {
            let mut st = conn.shard.stats.borrow_mut();
            st.errors[code.index()] += 1;
            st.commands[id].failed += 1;
        }
    }

    /// Runs a command that spans shards (call after `flush_remote`).
    pub async fn run_async(
        &mut self,
        conn: &mut ConnState,
        id: usize,
        spec: &'static CommandSpec,
        argv: &[&[u8]],
    ) {
        let mut out = std::mem::take(&mut self.out);
        let code = crate::cross::run(conn, id, spec, argv, &mut out).await;
        self.out = out;
        if let Some(code) = code {
            let mut st = conn.shard.stats.borrow_mut();
            st.errors[code.index()] += 1;
            st.commands[id].failed += 1;
        }
    }
}

/// Which shard(s) own a command's keys.
pub enum Owner {
    /// All keys are on this shard (or the command has none).
    One(usize),
    /// Keys span shards.
    Many,
}

/// Finds the owner of a keyed command's keys.
#[inline]
pub fn owner_of(shard: &Shard, spec: &CommandSpec, argv: &[&[u8]]) -> Owner {
    let g = &shard.global;
    if g.nshards == 1 {
        return Owner::One(0);
    }
    let mut keys = spec.keys_in(argv);
    let Some(first) = keys.next() else {
        return Owner::One(shard.id);
    };
    let owner = g.slots.shard_of_key(argv[first]);
    if let Exec::Shard(_, split) = spec.exec {
        if split != Split::None {
            for k in keys {
                if g.slots.shard_of_key(argv[k]) != owner {
                    return Owner::Many;
                }
            }
        }
    }
    Owner::One(owner)
}
