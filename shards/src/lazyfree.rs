//! Lazy free: large values and flushed keyspaces are handed to a [`LazyFree`] queue and
//! dropped a slice at a time by the shard's background task, so UNLINK of a million-element
//! aggregate or FLUSHALL of a large keyspace does not stall the shard (Redis's lazyfree).

use crate::keyspace::Keyspace;
use crate::value::Value;
use std::collections::VecDeque;

/// Values with more elements than this are freed lazily by UNLINK (Redis's
/// LAZYFREE_THRESHOLD).
pub const LAZYFREE_THRESHOLD: usize = 64;

/// Something waiting to be freed.
pub enum Garbage {
    /// A whole keyspace (FLUSHALL / FLUSHDB).
    Keyspace(Box<Keyspace>),
    /// One large value (UNLINK).
    Value(Value),
}

/// The queue of things to free.
#[derive(Default)]
pub struct LazyFree {
    queue: VecDeque<Garbage>,
}

impl LazyFree {
    /// Queues `g`.
    pub fn push(&mut self, g: Garbage) {
        self.queue.push_back(g);
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Frees about `budget` elements; returns how many were freed.
    pub fn step(&mut self, budget: usize) -> usize {
        let mut freed = 0;
        while freed < budget {
            let Some(front) = self.queue.front_mut() else {
                break;
            };
            let (n, done) = match front {
                Garbage::Keyspace(ks) => ks.drop_some(budget - freed),
                Garbage::Value(v) => v.drop_some(budget - freed),
            };
            freed += n.max(1);
            if done {
                self.queue.pop_front();
            }
        }
        freed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::Blob;

    #[test]
    fn frees_in_slices() {
        let mut ks = Keyspace::new();
        for i in 0..1000 {
            ks.insert(
                format!("k{i}").as_bytes(),
                Value::Str(Blob::from("v")),
                0,
                0,
            );
        }
        let mut lf = LazyFree::default();
        lf.push(Garbage::Keyspace(Box::new(ks)));
        // A list is freed a chunk (one allocation) at a time: 625 chunks of 8 elements.
        let items: Vec<String> = (0..5000).map(|i| format!("{i}")).collect();
        let list = crate::list::ListValue::from_elems(
            items.iter().map(|s| s.as_bytes()),
            crate::list::ListLimits::from_fill(8),
        );
        lf.push(Garbage::Value(Value::List(Box::new(list))));
        let mut steps = 0;
        while !lf.is_empty() {
            assert!(lf.step(100) <= 101);
            steps += 1;
            assert!(steps < 100);
        }
        assert!(steps >= 15, "{steps}");
    }
}
