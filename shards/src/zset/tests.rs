//! Unit tests and a model-based property test of both encodings.

use super::score::{LexRange, ScoreRange};
use super::*;
use proptest::prelude::*;

fn packed_lim() -> ZsetLimits {
    ZsetLimits {
        max_listpack_entries: usize::MAX,
        max_listpack_value: usize::MAX,
    }
}

fn large_lim() -> ZsetLimits {
    ZsetLimits {
        max_listpack_entries: 0,
        max_listpack_value: 0,
    }
}

/// The reference: a sorted vector of (score, member).
#[derive(Default, Clone)]
struct Model(Vec<(f64, Vec<u8>)>);

impl Model {
    fn sort(&mut self) {
        self.0
            .sort_by(|a, b| packed::cmp_entry((&a.1, a.0), (&b.1, b.0)));
    }
    fn pos(&self, m: &[u8]) -> Option<usize> {
        self.0.iter().position(|e| e.1 == m)
    }
    fn add(&mut self, m: &[u8], s: f64) {
        match self.pos(m) {
            Some(i) => self.0[i].0 = s,
            None => self.0.push((s, m.to_vec())),
        }
        self.sort();
    }
    fn remove(&mut self, m: &[u8]) -> bool {
        match self.pos(m) {
            Some(i) => {
                self.0.remove(i);
                true
            }
            None => false,
        }
    }
    fn entries(&self) -> Vec<(Vec<u8>, f64)> {
        self.0.iter().map(|(s, m)| (m.clone(), *s)).collect()
    }
}

#[test]
fn packed_converts_by_count_and_length() {
    let lim = ZsetLimits {
        max_listpack_entries: 3,
        max_listpack_value: 5,
    };
    let mut z = ZsetValue::default();
    let f = AddFlags::default();
    assert_eq!(z.add(b"a", 2.0, f, lim), AddOutcome::Added(2.0));
    assert_eq!(z.add(b"b", 1.0, f, lim), AddOutcome::Added(1.0));
    assert_eq!(z.add(b"c", 1.0, f, lim), AddOutcome::Added(1.0));
    assert_eq!(z.encoding(), "listpack");
    assert_eq!(
        z.to_vec(),
        vec![
            (b"b".to_vec(), 1.0),
            (b"c".to_vec(), 1.0),
            (b"a".to_vec(), 2.0)
        ]
    );
    assert_eq!(z.add(b"a", 2.0, f, lim), AddOutcome::Unchanged(2.0));
    assert_eq!(z.add(b"d", 0.0, f, lim), AddOutcome::Added(0.0));
    assert_eq!(z.encoding(), "skiplist");
    assert_eq!(z.rank(b"a", false), Some((3, 2.0)));
    assert_eq!(z.rank(b"a", true), Some((0, 2.0)));
    let mut y = ZsetValue::default();
    y.add(b"longer", 1.0, f, lim);
    assert_eq!(y.encoding(), "skiplist");
    // Shrinking does not convert back.
    z.remove_ranks(0, 3);
    assert_eq!(z.encoding(), "skiplist");
    assert_eq!(z.len(), 1);
}

#[test]
fn add_options_follow_redis() {
    let lim = packed_lim();
    for lim in [lim, large_lim()] {
        let mut z = ZsetValue::default();
        let nx = AddFlags {
            nx: true,
            ..Default::default()
        };
        let xx = AddFlags {
            xx: true,
            ..Default::default()
        };
        let gt = AddFlags {
            gt: true,
            ..Default::default()
        };
        let incr = AddFlags {
            incr: true,
            ..Default::default()
        };
        assert_eq!(z.add(b"m", 1.0, xx, lim), AddOutcome::Skipped);
        assert_eq!(z.add(b"m", 1.0, nx, lim), AddOutcome::Added(1.0));
        assert_eq!(z.add(b"m", 5.0, nx, lim), AddOutcome::Skipped);
        assert_eq!(z.add(b"m", 0.5, gt, lim), AddOutcome::Skipped);
        assert_eq!(z.add(b"m", 3.0, gt, lim), AddOutcome::Updated(3.0));
        assert_eq!(z.add(b"m", 2.0, incr, lim), AddOutcome::Updated(5.0));
        assert_eq!(
            z.add(b"n", f64::INFINITY, incr, lim),
            AddOutcome::Added(f64::INFINITY)
        );
        assert_eq!(
            z.add(b"n", f64::NEG_INFINITY, incr, lim),
            AddOutcome::NotANumber
        );
        assert_eq!(z.score(b"n"), Some(f64::INFINITY));
        assert_eq!(
            z.add(b"z", -0.0, AddFlags::default(), lim),
            AddOutcome::Added(-0.0)
        );
        assert_eq!(
            z.add(b"z", 0.0, AddFlags::default(), lim),
            AddOutcome::Unchanged(0.0)
        );
        // A listpack keeps -0 as the integer 0; the large encoding keeps the sign.
        let large = lim == large_lim();
        assert_eq!(z.score(b"z").map(|s| s.is_sign_negative()), Some(large));
    }
}

#[test]
fn spans_and_pops() {
    for lim in [packed_lim(), large_lim()] {
        let mut z = ZsetValue::default();
        for (i, m) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            z.add(m.as_bytes(), i as f64, AddFlags::default(), lim);
        }
        let r = ScoreRange::parse(b"(1", b"3").expect("range");
        assert_eq!(z.score_span(&r), (2, 4));
        let r = ScoreRange::parse(b"5", b"1").expect("range");
        let (s, e) = z.score_span(&r);
        assert_eq!(s, e);
        let l = LexRange::parse(b"[b", b"(d").expect("lex");
        assert_eq!(z.lex_span(&l, false), (1, 3));
        assert_eq!(z.lex_span(&l, true), (1, 3));
        assert_eq!(
            z.pop(true, 2),
            vec![(b"e".to_vec(), 4.0), (b"d".to_vec(), 3.0)]
        );
        assert_eq!(z.pop(false, 1), vec![(b"a".to_vec(), 0.0)]);
        assert_eq!(z.len(), 2);
        assert_eq!(z.drop_some(100), (2, true));
    }
}

#[test]
fn large_sets_keep_order_through_many_changes() {
    let mut z = ZsetValue::default();
    let lim = large_lim();
    let mut model = Model::default();
    let mut x: u64 = 7;
    for i in 0..20_000u64 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let m = format!("member:{}", x % 5000);
        let s = ((x >> 33) % 1000) as f64 / 4.0;
        if i % 7 == 3 {
            assert_eq!(z.remove(m.as_bytes()), model.remove(m.as_bytes()));
        } else {
            z.add(m.as_bytes(), s, AddFlags::default(), lim);
            model.add(m.as_bytes(), s);
        }
        if i % 997 == 0 {
            let (a, b) = ((x % 300) as usize, (x % 300 + x % 2000) as usize);
            let want: Vec<_> = model.entries().into_iter().skip(a).take(b - a).collect();
            assert_eq!(z.range(a, b, false), want);
            assert_eq!(z.remove_ranks(a, b), want.len());
            let n = model.0.len();
            model.0.drain(a.min(n)..b.min(n));
        }
    }
    if let ZsetValue::Large(l) = &z {
        l.check();
    }
    assert_eq!(z.to_vec(), model.entries());
    for (i, (m, s)) in model.entries().iter().enumerate() {
        assert_eq!(z.rank(m, false), Some((i, *s)));
        assert_eq!(z.at(i), Some((m.as_slice(), *s)));
    }
}

#[test]
fn ascending_inserts_fill_leaves() {
    let mut z = ZsetValue::default();
    for i in 0..100_000u32 {
        z.add(
            format!("m{i}").as_bytes(),
            i as f64,
            AddFlags::default(),
            large_lim(),
        );
    }
    let ZsetValue::Large(l) = &z else {
        panic!("large")
    };
    l.check();
    // Full leaves: about 12 bytes of tree per member (plus inner nodes).
    let per = l.heap_size() as f64 / 100_000.0;
    assert!(per < 64.0, "{per} bytes per member");
}

#[test]
fn bulk_build_and_range_removal_keep_invariants() {
    for n in [0usize, 1, 63, 64, 65, 130, 1000, 5000] {
        let entries: Vec<(Vec<u8>, f64)> = (0..n)
            .map(|i| (format!("k{i:05}").into_bytes(), (i / 3) as f64))
            .collect();
        let z = ZsetValue::from_entries(entries.clone(), large_lim());
        let ZsetValue::Large(mut l) = z else {
            assert_eq!(n, 0, "only an empty set stays packed");
            continue;
        };
        l.check();
        assert_eq!(l.len(), n);
        for (a, b) in [(0, n / 2), (n / 3, n / 3 + 1), (n / 4, n), (0, n)] {
            let before = l.len();
            let removed = l.remove_ranks(a, b);
            assert_eq!(l.len(), before - removed);
            l.check();
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Add(u8, i8, AddFlags),
    Remove(u8),
    RemoveRanks(u8, u8),
    Pop(bool, u8),
}

fn op() -> impl Strategy<Value = Op> {
    let flags = (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
        |(incr, nx, xx, gtlt)| AddFlags {
            incr,
            nx: nx && !xx,
            xx,
            gt: gtlt && !nx,
            lt: false,
        },
    );
    prop_oneof![
        6 => (any::<u8>(), any::<i8>(), flags).prop_map(|(m, s, f)| Op::Add(m, s, f)),
        3 => any::<u8>().prop_map(Op::Remove),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Op::RemoveRanks(a, b)),
        1 => (any::<bool>(), 0u8..20).prop_map(|(m, c)| Op::Pop(m, c)),
    ]
}

fn apply_model(model: &mut Model, op: &Op) {
    match *op {
        Op::Add(m, s, f) => {
            let key = [m % 200];
            let score = s as f64 / 2.0;
            match model.pos(&key) {
                Some(i) => {
                    let cur = model.0[i].0;
                    let new = if f.incr { cur + score } else { score };
                    if !f.nx && !(f.gt && new <= cur) {
                        model.add(&key, new);
                    }
                }
                None if !f.xx => model.add(&key, score),
                None => {}
            }
        }
        Op::Remove(m) => {
            model.remove(&[m % 200]);
        }
        Op::RemoveRanks(a, b) => {
            let n = model.0.len();
            let (a, b) = ((a as usize).min(n), (b as usize).min(n));
            if a < b {
                model.0.drain(a..b);
            }
        }
        Op::Pop(max, c) => {
            let n = model.0.len();
            let k = (c as usize).min(n);
            if max {
                model.0.truncate(n - k);
            } else {
                model.0.drain(..k);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn both_encodings_match_a_sorted_model(ops in prop::collection::vec(op(), 1..400)) {
        let mut model = Model::default();
        let small = ZsetLimits { max_listpack_entries: 16, max_listpack_value: 64 };
        let mut zs = [ZsetValue::default(), ZsetValue::default()];
        for op in &ops {
            apply_model(&mut model, op);
            for (z, lim) in zs.iter_mut().zip([small, large_lim()]) {
                match *op {
                    Op::Add(m, s, f) => {
                        z.add(&[m % 200], s as f64 / 2.0, f, lim);
                    }
                    Op::Remove(m) => {
                        z.remove(&[m % 200]);
                    }
                    Op::RemoveRanks(a, b) => {
                        z.remove_ranks(a as usize, b as usize);
                    }
                    Op::Pop(max, c) => {
                        z.pop(max, c as usize);
                    }
                }
                prop_assert_eq!(z.len(), model.0.len());
            }
        }
        let want = model.entries();
        for z in &zs {
            prop_assert_eq!(z.to_vec(), want.clone());
            if let ZsetValue::Large(l) = z {
                l.check();
            }
            for (i, (m, s)) in want.iter().enumerate() {
                prop_assert_eq!(z.rank(m, false), Some((i, *s)));
            }
            let r = ScoreRange { min: -10.0, max: 10.0, minex: true, maxex: false };
            let want_span = (
                want.iter().filter(|e| !r.gte_min(e.1)).count(),
                want.iter().filter(|e| r.lte_max(e.1)).count(),
            );
            let (s, e) = z.score_span(&r);
            prop_assert_eq!((s, e), (want_span.0, want_span.1.max(want_span.0)));
        }
    }
}
