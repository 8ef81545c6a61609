//! `IntSet`: sorted distinct integers at the narrowest width that holds them all (2, 4 or 8
//! bytes, little-endian), like Redis's intset, in one exact-size [`ThinBytes`] allocation: a
//! width byte then the values. An empty set allocates nothing.

use crate::thin::ThinBytes;

/// Sorted distinct integers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IntSet(ThinBytes);

fn width_for(v: i64) -> usize {
    if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    }
}

fn read(bytes: &[u8]) -> i64 {
    match bytes.len() {
        2 => i16::from_le_bytes([bytes[0], bytes[1]]) as i64,
        4 => i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as i64,
        _ => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[..8]);
            i64::from_le_bytes(b)
        }
    }
}

fn write(out: &mut Vec<u8>, v: i64, width: usize) {
    out.extend_from_slice(&v.to_le_bytes()[..width]);
}

impl IntSet {
    fn width(&self) -> usize {
        self.0.as_slice().first().map_or(2, |w| *w as usize)
    }

    /// Number of integers.
    pub fn len(&self) -> usize {
        match self.0.len() {
            0 => 0,
            n => (n - 1) / self.width(),
        }
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `i`-th smallest.
    pub fn get(&self, i: usize) -> Option<i64> {
        let w = self.width();
        let at = 1 + i.checked_mul(w)?;
        self.0.as_slice().get(at..at + w).map(read)
    }

    /// All, ascending.
    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        let w = self.width();
        self.0
            .as_slice()
            .get(1..)
            .unwrap_or(&[])
            .chunks_exact(w)
            .map(read)
    }

    fn search(&self, v: i64) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.get(mid).map(|x| x.cmp(&v)) {
                Some(std::cmp::Ordering::Less) => lo = mid + 1,
                Some(std::cmp::Ordering::Greater) => hi = mid,
                _ => return Ok(mid),
            }
        }
        Err(lo)
    }

    /// Membership.
    pub fn contains(&self, v: i64) -> bool {
        self.search(v).is_ok()
    }

    /// Rebuilds with `v` inserted at `pos` (or removed from it) at width `w`.
    fn rebuild(&mut self, w: usize, insert: Option<(usize, i64)>, remove: Option<usize>) {
        let n = self.len() + usize::from(insert.is_some()) - usize::from(remove.is_some());
        if n == 0 {
            self.0 = ThinBytes::default();
            return;
        }
        let mut out = Vec::with_capacity(1 + n * w);
        out.push(w as u8);
        for (i, x) in self.iter().enumerate() {
            if let Some((pos, v)) = insert {
                if pos == i {
                    write(&mut out, v, w);
                }
            }
            if remove != Some(i) {
                write(&mut out, x, w);
            }
        }
        if let Some((pos, v)) = insert {
            if pos == self.len() {
                write(&mut out, v, w);
            }
        }
        self.0 = ThinBytes::from_parts(&[&out]);
    }

    /// Adds `v`; true when new.
    pub fn insert(&mut self, v: i64) -> bool {
        match self.search(v) {
            Ok(_) => false,
            Err(pos) => {
                let w = self.width().max(width_for(v));
                self.rebuild(w, Some((pos, v)), None);
                true
            }
        }
    }

    /// Removes `v`; true when it was there.
    pub fn remove(&mut self, v: i64) -> bool {
        match self.search(v) {
            Ok(pos) => {
                self.rebuild(self.width(), None, Some(pos));
                true
            }
            Err(_) => false,
        }
    }

    /// Heap bytes: the allocation (length header, width byte, values), none when empty.
    pub fn heap_size(&self) -> usize {
        self.0.heap_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn behaves_like_a_sorted_set(ops in proptest::collection::vec((any::<bool>(), prop_oneof![
            -300i64..300, any::<i16>().prop_map(i64::from), any::<i32>().prop_map(i64::from), any::<i64>()]), 0..200)) {
            let mut s = IntSet::default();
            let mut model = std::collections::BTreeSet::new();
            for (add, v) in ops {
                if add {
                    prop_assert_eq!(s.insert(v), model.insert(v));
                } else {
                    prop_assert_eq!(s.remove(v), model.remove(&v));
                }
                prop_assert_eq!(s.len(), model.len());
                prop_assert!(s.iter().eq(model.iter().copied()));
            }
            for v in &model {
                prop_assert!(s.contains(*v));
            }
        }
    }

    #[test]
    fn narrowest_width() {
        let mut s = IntSet::default();
        s.insert(5);
        s.insert(-7);
        assert_eq!(s.heap_size(), 1 + 1 + 4);
        s.insert(70_000);
        assert_eq!(s.heap_size(), 1 + 1 + 12);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![-7, 5, 70_000]);
        s.remove(70_000);
        assert_eq!(s.len(), 2);
        s.remove(5);
        s.remove(-7);
        assert_eq!(s.heap_size(), 0);
    }
}
