//! An order-statistic B+tree of `(score, id)` keys: the order of a large sorted set.
//!
//! Keys sort by score, then by the member bytes the id names (looked up through [`Members`]),
//! exactly like Redis's skiplist. Leaves hold up to [`LEAF_CAP`] keys as two parallel arrays
//! (12 bytes a key); inner nodes hold, per child, the child's smallest key and its number of
//! keys, so that a rank, a position, a key at a rank or a partition point is one descent
//! (O(log n)) and a range of m keys is O(log n + m).
//!
//! Splits halve a full node, except at the very ends of the tree: an insert past the last key
//! (or before the first) starts a new leaf and leaves the full one full, so ascending inserts
//! (timestamps, counters) fill leaves completely. Deletions merge or rebalance a node that
//! falls below a third full with a neighbour.

use std::cmp::Ordering;

/// Keys per leaf.
pub(crate) const LEAF_CAP: usize = 64;
const LEAF_MIN: usize = LEAF_CAP / 3;
/// Children per inner node.
const INNER_CAP: usize = 32;
const INNER_MIN: usize = INNER_CAP / 3;

/// A key: (score, member id).
pub(crate) type Key = (f64, u32);

/// Gives the member bytes of an id (the tree stores ids only).
pub(crate) trait Members {
    /// The member with this id.
    fn member(&self, id: u32) -> &[u8];
}

#[inline]
fn cmp_key<M: Members + ?Sized>(m: &M, a: Key, b: Key) -> Ordering {
    match a.0.partial_cmp(&b.0) {
        Some(Ordering::Equal) | None => {
            if a.1 == b.1 {
                Ordering::Equal
            } else {
                m.member(a.1).cmp(m.member(b.1))
            }
        }
        Some(o) => o,
    }
}

#[derive(Clone)]
struct Leaf {
    len: usize,
    scores: [f64; LEAF_CAP],
    ids: [u32; LEAF_CAP],
}

impl Leaf {
    fn new() -> Box<Leaf> {
        Box::new(Leaf {
            len: 0,
            scores: [0.0; LEAF_CAP],
            ids: [0; LEAF_CAP],
        })
    }

    #[inline]
    fn key(&self, i: usize) -> Key {
        (self.scores[i], self.ids[i])
    }

    /// First position whose key is not below `key`.
    fn lower_bound<M: Members + ?Sized>(&self, m: &M, key: Key) -> usize {
        let (mut lo, mut hi) = (0, self.len);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if cmp_key(m, self.key(mid), key) == Ordering::Less {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    fn insert_at(&mut self, i: usize, key: Key) {
        self.scores.copy_within(i..self.len, i + 1);
        self.ids.copy_within(i..self.len, i + 1);
        self.scores[i] = key.0;
        self.ids[i] = key.1;
        self.len += 1;
    }

    fn remove_range(&mut self, from: usize, to: usize) {
        self.scores.copy_within(to..self.len, from);
        self.ids.copy_within(to..self.len, from);
        self.len -= to - from;
    }

    /// Moves the keys from `at` on into a new leaf.
    fn split_off(&mut self, at: usize) -> Box<Leaf> {
        let mut right = Leaf::new();
        let n = self.len - at;
        right.scores[..n].copy_from_slice(&self.scores[at..self.len]);
        right.ids[..n].copy_from_slice(&self.ids[at..self.len]);
        right.len = n;
        self.len = at;
        right
    }

    fn append(&mut self, other: &Leaf) {
        let n = other.len;
        self.scores[self.len..self.len + n].copy_from_slice(&other.scores[..n]);
        self.ids[self.len..self.len + n].copy_from_slice(&other.ids[..n]);
        self.len += n;
    }
}

#[derive(Clone)]
struct Child {
    /// Smallest key of the subtree.
    min: Key,
    /// Keys in the subtree.
    count: usize,
    node: Node,
}

#[derive(Clone)]
struct Inner {
    kids: Vec<Child>,
}

#[derive(Clone)]
enum Node {
    Leaf(Box<Leaf>),
    Inner(Box<Inner>),
}

impl Node {
    fn min(&self) -> Key {
        match self {
            Node::Leaf(l) => l.key(0),
            Node::Inner(n) => n.kids[0].min,
        }
    }

    fn underfull(&self) -> bool {
        match self {
            Node::Leaf(l) => l.len < LEAF_MIN,
            Node::Inner(n) => n.kids.len() < INNER_MIN,
        }
    }

    fn into_child(self, count: usize) -> Child {
        Child {
            min: self.min(),
            count,
            node: self,
        }
    }
}

/// Nodes allocated, for memory accounting.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
struct Nodes {
    leaves: usize,
    inners: usize,
}

impl Nodes {
    fn count(&mut self, n: &Node, sign: isize) {
        match n {
            Node::Leaf(_) => self.leaves = self.leaves.wrapping_add_signed(sign),
            Node::Inner(i) => {
                self.inners = self.inners.wrapping_add_signed(sign);
                for k in &i.kids {
                    self.count(&k.node, sign);
                }
            }
        }
    }
}

/// The tree.
#[derive(Clone)]
pub(crate) struct Tree {
    root: Node,
    len: usize,
    nodes: Nodes,
}

impl Default for Tree {
    fn default() -> Self {
        Tree {
            root: Node::Leaf(Leaf::new()),
            len: 0,
            nodes: Nodes {
                leaves: 1,
                inners: 0,
            },
        }
    }
}

/// Index of the child to descend into for `key`: the last whose minimum is not above it.
fn child_for<M: Members + ?Sized>(m: &M, kids: &[Child], key: Key) -> usize {
    let (mut lo, mut hi) = (1, kids.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        if cmp_key(m, kids[mid].min, key) == Ordering::Greater {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo - 1
}

fn insert<M: Members + ?Sized>(
    node: &mut Node,
    key: Key,
    m: &M,
    leftmost: bool,
    rightmost: bool,
    nodes: &mut Nodes,
) -> Option<Child> {
    match node {
        Node::Leaf(leaf) => {
            let pos = leaf.lower_bound(m, key);
            if leaf.len < LEAF_CAP {
                leaf.insert_at(pos, key);
                return None;
            }
            nodes.leaves += 1;
            let right = if pos == leaf.len && rightmost {
                let mut r = Leaf::new();
                r.insert_at(0, key);
                r
            } else if pos == 0 && leftmost {
                let r = leaf.split_off(0);
                leaf.insert_at(0, key);
                r
            } else {
                let mid = LEAF_CAP / 2;
                let mut r = leaf.split_off(mid);
                if pos <= mid {
                    leaf.insert_at(pos, key);
                } else {
                    r.insert_at(pos - mid, key);
                }
                r
            };
            let n = right.len;
            Some(Node::Leaf(right).into_child(n))
        }
        Node::Inner(inner) => {
            let i = child_for(m, &inner.kids, key);
            let last = inner.kids.len() - 1;
            let kid = &mut inner.kids[i];
            let split = insert(
                &mut kid.node,
                key,
                m,
                leftmost && i == 0,
                rightmost && i == last,
                nodes,
            );
            kid.count += 1;
            kid.min = kid.node.min();
            if let Some(mut new) = split {
                kid.count -= new.count;
                new.min = new.node.min();
                inner.kids.insert(i + 1, new);
            }
            if inner.kids.len() <= INNER_CAP {
                return None;
            }
            nodes.inners += 1;
            let right: Vec<Child> = inner.kids.split_off(INNER_CAP / 2 + 1);
            let count = right.iter().map(|c| c.count).sum();
            Some(Node::Inner(Box::new(Inner { kids: right })).into_child(count))
        }
    }
}

/// Merges `kids[i]` with a neighbour, or evens them out, when it fell below its minimum
/// (drops it when empty).
fn fix_underflow(kids: &mut Vec<Child>, i: usize, nodes: &mut Nodes) {
    if kids[i].count == 0 {
        let gone = kids.remove(i);
        nodes.count(&gone.node, -1);
        return;
    }
    if kids.len() < 2 || !kids[i].node.underfull() {
        return;
    }
    let l = if i + 1 < kids.len() { i } else { i - 1 };
    let (left, right) = kids.split_at_mut(l + 1);
    let (a, b) = (&mut left[l], &mut right[0]);
    match (&mut a.node, &mut b.node) {
        (Node::Leaf(x), Node::Leaf(y)) => {
            let total = x.len + y.len;
            if total <= LEAF_CAP {
                x.append(y);
                a.count = total;
                nodes.leaves -= 1;
                kids.remove(l + 1);
                return;
            }
            let want = total / 2;
            if x.len < want {
                let k = want - x.len;
                let moved = {
                    let mut tmp = y.split_off(k);
                    std::mem::swap(&mut tmp, y);
                    tmp
                };
                x.append(&moved);
            } else {
                let mut tail = x.split_off(want);
                tail.append(y);
                *y = tail;
            }
            a.count = x.len;
            b.count = y.len;
        }
        (Node::Inner(x), Node::Inner(y)) => {
            let total = x.kids.len() + y.kids.len();
            if total <= INNER_CAP {
                x.kids.append(&mut y.kids);
                a.count += b.count;
                nodes.inners -= 1;
                kids.remove(l + 1);
                return;
            }
            let want = total / 2;
            if x.kids.len() < want {
                let k = want - x.kids.len();
                x.kids.extend(y.kids.drain(..k));
            } else {
                let mut tail = x.kids.split_off(want);
                tail.append(&mut y.kids);
                y.kids = tail;
            }
            a.count = x.kids.iter().map(|c| c.count).sum();
            b.count = y.kids.iter().map(|c| c.count).sum();
        }
        _ => unreachable!("siblings have the same height"),
    }
    a.min = a.node.min();
    b.min = b.node.min();
}

fn remove<M: Members + ?Sized>(node: &mut Node, key: Key, m: &M, nodes: &mut Nodes) -> bool {
    match node {
        Node::Leaf(leaf) => {
            let i = leaf.lower_bound(m, key);
            if i < leaf.len && leaf.ids[i] == key.1 {
                leaf.remove_range(i, i + 1);
                true
            } else {
                false
            }
        }
        Node::Inner(inner) => {
            let i = child_for(m, &inner.kids, key);
            let kid = &mut inner.kids[i];
            if !remove(&mut kid.node, key, m, nodes) {
                return false;
            }
            kid.count -= 1;
            if kid.count > 0 {
                kid.min = kid.node.min();
            }
            fix_underflow(&mut inner.kids, i, nodes);
            true
        }
    }
}

/// Removes the keys at positions `from..to` of this subtree (0 <= from < to <= its count).
fn remove_range(node: &mut Node, from: usize, to: usize, nodes: &mut Nodes) {
    match node {
        Node::Leaf(leaf) => leaf.remove_range(from, to),
        Node::Inner(inner) => {
            let kids = &mut inner.kids;
            let (mut off, mut i) = (0, 0);
            while i < kids.len() {
                let (s, e) = (off, off + kids[i].count);
                off = e;
                if e <= from || s >= to {
                    i += 1;
                } else if from <= s && e <= to {
                    let gone = kids.remove(i);
                    nodes.count(&gone.node, -1);
                } else {
                    let (lf, lt) = (from.max(s) - s, to.min(e) - s);
                    let kid = &mut kids[i];
                    remove_range(&mut kid.node, lf, lt, nodes);
                    kid.count -= lt - lf;
                    kid.min = kid.node.min();
                    i += 1;
                }
            }
            let mut i = 0;
            while i < kids.len() {
                if kids.len() > 1 && kids[i].node.underfull() {
                    let before = kids.len();
                    fix_underflow(kids, i, nodes);
                    if kids.len() < before {
                        i = i.saturating_sub(1);
                        continue;
                    }
                }
                i += 1;
            }
        }
    }
}

impl Tree {
    /// Keys in the tree.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Heap bytes of the nodes.
    pub(crate) fn heap_size(&self) -> usize {
        self.nodes.leaves * std::mem::size_of::<Leaf>()
            + self.nodes.inners
                * (std::mem::size_of::<Inner>() + (INNER_CAP + 1) * std::mem::size_of::<Child>())
    }

    /// Inserts `key` (which must not be present).
    pub(crate) fn insert<M: Members + ?Sized>(&mut self, key: Key, m: &M) {
        if let Some(right) = insert(&mut self.root, key, m, true, true, &mut self.nodes) {
            let left_count = self.len + 1 - right.count;
            let old = std::mem::replace(&mut self.root, Node::Leaf(Leaf::new()));
            let left = old.into_child(left_count);
            self.root = Node::Inner(Box::new(Inner {
                kids: vec![left, right],
            }));
            self.nodes.inners += 1;
        }
        self.len += 1;
    }

    fn shrink_root(&mut self) {
        loop {
            match &mut self.root {
                Node::Inner(inner) if inner.kids.len() == 1 => {
                    let kid = inner.kids.pop().map(|c| c.node);
                    if let Some(k) = kid {
                        self.root = k;
                        self.nodes.inners -= 1;
                    }
                }
                Node::Inner(inner) if inner.kids.is_empty() => {
                    self.root = Node::Leaf(Leaf::new());
                    self.nodes = Nodes {
                        leaves: 1,
                        inners: 0,
                    };
                }
                _ => return,
            }
        }
    }

    /// Removes `key`; false when it was not there.
    pub(crate) fn remove<M: Members + ?Sized>(&mut self, key: Key, m: &M) -> bool {
        if !remove(&mut self.root, key, m, &mut self.nodes) {
            return false;
        }
        self.len -= 1;
        self.shrink_root();
        true
    }

    /// Removes the keys at ranks `from..to`.
    pub(crate) fn remove_range(&mut self, from: usize, to: usize) {
        let to = to.min(self.len);
        if from >= to {
            return;
        }
        if from == 0 && to == self.len {
            *self = Tree::default();
            return;
        }
        remove_range(&mut self.root, from, to, &mut self.nodes);
        self.len -= to - from;
        self.shrink_root();
    }

    /// Number of keys below `key` (its rank when present).
    pub(crate) fn rank<M: Members + ?Sized>(&self, key: Key, m: &M) -> usize {
        let mut node = &self.root;
        let mut before = 0;
        loop {
            match node {
                Node::Leaf(l) => return before + l.lower_bound(m, key),
                Node::Inner(inner) => {
                    let i = child_for(m, &inner.kids, key);
                    before += inner.kids[..i].iter().map(|c| c.count).sum::<usize>();
                    node = &inner.kids[i].node;
                }
            }
        }
    }

    /// Number of leading keys for which `pred` holds (`pred` must hold on a prefix).
    pub(crate) fn partition_point(&self, mut pred: impl FnMut(Key) -> bool) -> usize {
        let mut node = &self.root;
        let mut before = 0;
        loop {
            match node {
                Node::Leaf(l) => {
                    let (mut lo, mut hi) = (0, l.len);
                    while lo < hi {
                        let mid = (lo + hi) / 2;
                        if pred(l.key(mid)) {
                            lo = mid + 1;
                        } else {
                            hi = mid;
                        }
                    }
                    return before + lo;
                }
                Node::Inner(inner) => {
                    let kids = &inner.kids;
                    // The last child whose minimum satisfies pred holds the boundary.
                    let (mut lo, mut hi) = (0, kids.len());
                    while lo < hi {
                        let mid = (lo + hi) / 2;
                        if pred(kids[mid].min) {
                            lo = mid + 1;
                        } else {
                            hi = mid;
                        }
                    }
                    if lo == 0 {
                        return before;
                    }
                    before += kids[..lo - 1].iter().map(|c| c.count).sum::<usize>();
                    node = &kids[lo - 1].node;
                }
            }
        }
    }

    /// The key at `rank`.
    pub(crate) fn get(&self, mut rank: usize) -> Option<Key> {
        if rank >= self.len {
            return None;
        }
        let mut node = &self.root;
        loop {
            match node {
                Node::Leaf(l) => return (rank < l.len).then(|| l.key(rank)),
                Node::Inner(inner) => {
                    let mut next = None;
                    for k in &inner.kids {
                        if rank < k.count {
                            next = Some(&k.node);
                            break;
                        }
                        rank -= k.count;
                    }
                    node = next?;
                }
            }
        }
    }

    /// Calls `f` on the keys at ranks `from..to`, in order (or in reverse order).
    pub(crate) fn visit(&self, from: usize, to: usize, rev: bool, f: &mut impl FnMut(Key)) {
        let to = to.min(self.len);
        if from < to {
            visit(&self.root, from, to, rev, f);
        }
    }

    /// Builds a tree from keys already in order.
    pub(crate) fn from_sorted(keys: &[Key]) -> Tree {
        if keys.is_empty() {
            return Tree::default();
        }
        let mut nodes = Nodes::default();
        let mut level: Vec<Child> = chunks(keys.len(), LEAF_CAP, LEAF_MIN)
            .into_iter()
            .map(|(s, e)| {
                let mut l = Leaf::new();
                for (i, k) in keys[s..e].iter().enumerate() {
                    l.scores[i] = k.0;
                    l.ids[i] = k.1;
                }
                l.len = e - s;
                nodes.leaves += 1;
                Node::Leaf(l).into_child(e - s)
            })
            .collect();
        while level.len() > 1 {
            let mut next = Vec::new();
            let mut rest = level.into_iter();
            for (s, e) in chunks(rest.len(), INNER_CAP, INNER_MIN) {
                let kids: Vec<Child> = rest.by_ref().take(e - s).collect();
                let count = kids.iter().map(|c| c.count).sum();
                nodes.inners += 1;
                next.push(Node::Inner(Box::new(Inner { kids })).into_child(count));
            }
            level = next;
        }
        let root = level
            .pop()
            .map(|c| c.node)
            .unwrap_or(Node::Leaf(Leaf::new()));
        Tree {
            root,
            len: keys.len(),
            nodes,
        }
    }

    /// Checks every invariant (tests).
    #[cfg(test)]
    pub(crate) fn check<M: Members + ?Sized>(&self, m: &M) {
        fn walk<M: Members + ?Sized>(
            n: &Node,
            m: &M,
            depth: usize,
            leaf_depth: &mut Option<usize>,
            out: &mut Vec<Key>,
        ) -> usize {
            match n {
                Node::Leaf(l) => {
                    match leaf_depth {
                        Some(d) => assert_eq!(*d, depth, "uneven leaves"),
                        None => *leaf_depth = Some(depth),
                    }
                    out.extend((0..l.len).map(|i| l.key(i)));
                    l.len
                }
                Node::Inner(i) => {
                    assert!(!i.kids.is_empty() && i.kids.len() <= INNER_CAP);
                    let mut total = 0;
                    for k in &i.kids {
                        let c = walk(&k.node, m, depth + 1, leaf_depth, out);
                        assert_eq!(c, k.count, "count");
                        assert!(c > 0, "empty child");
                        assert_eq!(k.min.1, k.node.min().1, "min");
                        total += c;
                    }
                    total
                }
            }
        }
        let mut keys = Vec::new();
        let n = walk(&self.root, m, 0, &mut None, &mut keys);
        assert_eq!(n, self.len);
        for w in keys.windows(2) {
            assert_eq!(cmp_key(m, w[0], w[1]), Ordering::Less, "order");
        }
        let mut counted = Nodes::default();
        counted.count(&self.root, 1);
        assert_eq!(counted, self.nodes, "node counters");
    }
}

/// Splits `n` items into runs of at most `cap`, the last one at least `min` (when n allows).
fn chunks(n: usize, cap: usize, min: usize) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = (0..n).step_by(cap).map(|s| (s, (s + cap).min(n))).collect();
    let k = out.len();
    if k >= 2 && out[k - 1].1 - out[k - 1].0 < min {
        let (s, e) = (out[k - 2].0, out[k - 1].1);
        let mid = s + (e - s) / 2;
        out[k - 2] = (s, mid);
        out[k - 1] = (mid, e);
    }
    out
}

fn visit(node: &Node, from: usize, to: usize, rev: bool, f: &mut impl FnMut(Key)) {
    match node {
        Node::Leaf(l) => {
            if rev {
                for i in (from..to).rev() {
                    f(l.key(i));
                }
            } else {
                for i in from..to {
                    f(l.key(i));
                }
            }
        }
        Node::Inner(inner) => {
            // The children overlapping from..to, with the offset of the first.
            let (mut first, mut off) = (0, 0);
            while first < inner.kids.len() && off + inner.kids[first].count <= from {
                off += inner.kids[first].count;
                first += 1;
            }
            let (mut last, mut end) = (first, off);
            while last < inner.kids.len() && end < to {
                end += inner.kids[last].count;
                last += 1;
            }
            let span = |i: usize, s: usize| {
                let e = s + inner.kids[i].count;
                (from.max(s) - s, to.min(e) - s)
            };
            if rev {
                let mut e = end;
                for i in (first..last).rev() {
                    let s = e - inner.kids[i].count;
                    let (a, b) = span(i, s);
                    visit(&inner.kids[i].node, a, b, rev, f);
                    e = s;
                }
            } else {
                let mut s = off;
                for i in first..last {
                    let (a, b) = span(i, s);
                    visit(&inner.kids[i].node, a, b, rev, f);
                    s += inner.kids[i].count;
                }
            }
        }
    }
}
