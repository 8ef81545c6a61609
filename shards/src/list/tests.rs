//! Lists against a `VecDeque<Vec<u8>>` model.

use super::*;
use proptest::prelude::*;

fn contents(l: &ListValue) -> Vec<Vec<u8>> {
    l.iter().map(|e| e.to_vec()).collect()
}

fn check(l: &ListValue, model: &VecDeque<Vec<u8>>, lim: ListLimits) {
    let m: Vec<Vec<u8>> = model.iter().cloned().collect();
    assert_eq!(l.len(), m.len());
    assert_eq!(contents(l), m);
    let mut rev: Vec<Vec<u8>> = l.iter().rev().map(|e| e.to_vec()).collect();
    rev.reverse();
    assert_eq!(rev, m);
    // Accounting kept incrementally matches a recount.
    if let ListValue::Quick(q) = l {
        assert_eq!(q.bytes, q.chunks.iter().map(|c| c.cap()).sum::<usize>());
        assert_eq!(q.len, q.chunks.iter().map(|c| c.len()).sum::<usize>());
        assert!(q.chunks.iter().all(|c| !c.is_empty()));
        assert!(q
            .chunks
            .iter()
            .all(|c| c.len() == 1 || (c.used() <= lim.max_bytes && c.len() <= lim.max_count)));
    }
}

#[test]
fn limits_follow_redis() {
    assert_eq!(ListLimits::default().max_bytes, 8192);
    assert_eq!(ListLimits::from_fill(-1).max_bytes, 4096);
    assert_eq!(ListLimits::from_fill(-5).max_bytes, 65536);
    assert_eq!(ListLimits::from_fill(-100).max_bytes, 65536);
    assert_eq!(ListLimits::from_fill(0).max_count, 1);
    assert_eq!(ListLimits::from_fill(128).max_count, 128);
}

#[test]
fn small_lists_are_packed_and_large_ones_chunked() {
    let lim = ListLimits::default();
    let mut l = ListValue::default();
    for i in 0..100 {
        l.push(format!("v{i}").as_bytes(), false, lim);
    }
    assert_eq!(l.encoding(), "listpack");
    for i in 100..10_000 {
        l.push(format!("v{i}").as_bytes(), false, lim);
    }
    assert_eq!(l.encoding(), "quicklist");
    assert_eq!(l.get(0).map(|e| e.to_vec()), Some(b"v0".to_vec()));
    assert_eq!(l.get(9999).map(|e| e.to_vec()), Some(b"v9999".to_vec()));
    assert_eq!(l.get(5000).map(|e| e.to_vec()), Some(b"v5000".to_vec()));
    assert!(l.get(10_000).is_none());
    let from: Vec<Vec<u8>> = l.iter_from(9998).map(|e| e.to_vec()).collect();
    assert_eq!(from, vec![b"v9998".to_vec(), b"v9999".to_vec()]);
    // Sequential short elements share their prefix: a few bytes each.
    assert!(l.heap_size() < 10_000 * 6, "{}", l.heap_size());
    while l.len() > 10 {
        l.pop(true, lim);
    }
    assert_eq!(l.encoding(), "listpack");
    let (n, empty) = l.drop_some(100);
    assert_eq!((n, empty), (1, true));
}

#[test]
fn edits_in_the_middle() {
    let lim = ListLimits::from_fill(4);
    let mut model: VecDeque<Vec<u8>> = VecDeque::new();
    let mut l = ListValue::default();
    for i in 0..20 {
        let e = format!("e{}", i % 3).into_bytes();
        l.push(&e, false, lim);
        model.push_back(e);
    }
    check(&l, &model, lim);
    assert!(l.set(7, b"seven", lim));
    model[7] = b"seven".to_vec();
    l.insert(3, b"three", lim);
    model.insert(3, b"three".to_vec());
    check(&l, &model, lim);
    assert_eq!(l.remove(b"e1", 2, true, lim), 2);
    let mut removed = 0;
    for i in (0..model.len()).rev() {
        if removed < 2 && model[i] == b"e1" {
            model.remove(i);
            removed += 1;
        }
    }
    check(&l, &model, lim);
    assert_eq!(l.remove(b"e0", usize::MAX, false, lim), 7);
    model.retain(|e| e != b"e0");
    check(&l, &model, lim);
    l.trim(Some((1, 4)), lim);
    let m: VecDeque<Vec<u8>> = model.range(1..=4).cloned().collect();
    check(&l, &m, lim);
}

#[derive(Debug, Clone)]
enum Op {
    Push(bool, Vec<u8>),
    Pop(bool),
    Set(usize, Vec<u8>),
    Insert(usize, Vec<u8>),
    Remove(Vec<u8>, usize, bool),
    Trim(usize, usize),
    Get(usize),
    From(usize),
}

fn elem() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (0u32..40).prop_map(|i| format!("item:{i}").into_bytes()),
        (0u32..5).prop_map(|i| format!("{i}").into_bytes()),
        any::<i64>().prop_map(|i| format!("{i}").into_bytes()),
        (-300i64..300).prop_map(|i| format!("{i}").into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..200),
        Just(Vec::new()),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<bool>(), elem()).prop_map(|(l, e)| Op::Push(l, e)),
        2 => any::<bool>().prop_map(Op::Pop),
        1 => (0usize..60, elem()).prop_map(|(i, e)| Op::Set(i, e)),
        1 => (0usize..60, elem()).prop_map(|(i, e)| Op::Insert(i, e)),
        1 => (elem(), 0usize..4, any::<bool>()).prop_map(|(e, n, b)| Op::Remove(e, n, b)),
        1 => (0usize..10, 0usize..60).prop_map(|(s, e)| Op::Trim(s, e)),
        1 => (0usize..60).prop_map(Op::Get),
        1 => (0usize..60).prop_map(Op::From),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn behaves_like_a_deque(
        fill in prop_oneof![Just(-1i64), Just(1), Just(3), Just(-2)],
        small in any::<bool>(),
        ops in proptest::collection::vec(op(), 1..150),
    ) {
        let mut lim = ListLimits::from_fill(fill);
        if small && fill < 0 {
            lim.max_bytes = 96;
        }
        let mut l = ListValue::default();
        let mut m: VecDeque<Vec<u8>> = VecDeque::new();
        for op in ops {
            match op {
                Op::Push(left, e) => {
                    l.push(&e, left, lim);
                    if left { m.push_front(e) } else { m.push_back(e) }
                }
                Op::Pop(left) => {
                    let got = l.pop(left, lim).map(|b| b.to_vec());
                    let want = if left { m.pop_front() } else { m.pop_back() };
                    prop_assert_eq!(got, want);
                }
                Op::Set(i, e) => {
                    let ok = l.set(i, &e, lim);
                    prop_assert_eq!(ok, i < m.len());
                    if ok { m[i] = e; }
                }
                Op::Insert(i, e) => {
                    let i = i.min(m.len());
                    l.insert(i, &e, lim);
                    m.insert(i, e);
                }
                Op::Remove(e, n, back) => {
                    let max = if n == 0 { usize::MAX } else { n };
                    let got = l.remove(&e, max, back, lim);
                    let mut want = 0;
                    if back {
                        let mut i = m.len();
                        while i > 0 && want < max { i -= 1; if m[i] == e { m.remove(i); want += 1; } }
                    } else {
                        let mut i = 0;
                        while i < m.len() && want < max { if m[i] == e { m.remove(i); want += 1; } else { i += 1; } }
                    }
                    prop_assert_eq!(got, want);
                }
                Op::Trim(s, e) => {
                    let keep = (s <= e && s < m.len()).then(|| (s, e.min(m.len() - 1)));
                    l.trim(keep, lim);
                    m = match keep {
                        Some((s, e)) => m.range(s..=e).cloned().collect(),
                        None => VecDeque::new(),
                    };
                }
                Op::Get(i) => {
                    prop_assert_eq!(l.get(i).map(|e| e.to_vec()), m.get(i).cloned());
                }
                Op::From(i) => {
                    let got: Vec<Vec<u8>> = l.iter_from(i).map(|e| e.to_vec()).collect();
                    let want: Vec<Vec<u8>> = m.iter().skip(i).cloned().collect();
                    prop_assert_eq!(got, want);
                }
            }
            check(&l, &m, lim);
        }
    }
}
