//! Canonical sets of integer ranges: the one normalizer behind every resource set
//! (RES-9), with set algebra in linear time over sorted ranges (RES-11).

use std::fmt::Debug;
use std::hash::Hash;

/// An unsigned integer space: IPv4 (u32), IPv6 (u128) or AS numbers (u32).
pub trait Value: Copy + Ord + Eq + Hash + Debug + Send + Sync + 'static {
    const MIN: Self;
    const MAX: Self;
    fn succ(self) -> Option<Self>;
    fn pred(self) -> Option<Self>;
}

impl Value for u32 {
    const MIN: Self = 0;
    const MAX: Self = u32::MAX;
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn pred(self) -> Option<Self> {
        self.checked_sub(1)
    }
}

impl Value for u128 {
    const MIN: Self = 0;
    const MAX: Self = u128::MAX;
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn pred(self) -> Option<Self> {
        self.checked_sub(1)
    }
}

/// A set of values as sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct RangeSet<T: Value> {
    ranges: Vec<(T, T)>,
}

impl<T: Value> Debug for RangeSet<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.ranges.iter()).finish()
    }
}

impl<T: Value> RangeSet<T> {
    pub fn empty() -> Self {
        RangeSet { ranges: Vec::new() }
    }

    pub fn full() -> Self {
        RangeSet { ranges: vec![(T::MIN, T::MAX)] }
    }

    /// Normalize arbitrary ranges (any order, overlapping, adjacent; `min > max`
    /// ranges are ignored) into the canonical form.
    pub fn from_ranges(ranges: impl IntoIterator<Item = (T, T)>) -> Self {
        let mut v: Vec<(T, T)> = ranges.into_iter().filter(|(a, b)| a <= b).collect();
        v.sort_unstable();
        let mut out: Vec<(T, T)> = Vec::with_capacity(v.len());
        for (lo, hi) in v {
            if let Some(last) = out.last_mut() {
                // Merge overlapping or adjacent ranges (RES-2).
                if last.1.succ().is_none_or(|next| lo <= next) {
                    if hi > last.1 {
                        last.1 = hi;
                    }
                    continue;
                }
            }
            out.push((lo, hi));
        }
        RangeSet { ranges: out }
    }

    /// Wrap ranges already known to be canonical; `None` if they are not.
    pub fn from_canonical(ranges: Vec<(T, T)>) -> Option<Self> {
        let ok = ranges.iter().all(|(a, b)| a <= b) && ranges.windows(2).all(|w| w[0].1.succ().is_some_and(|n| n < w[1].0));
        ok.then_some(RangeSet { ranges })
    }

    pub fn ranges(&self) -> &[(T, T)] {
        &self.ranges
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub fn contains_value(&self, v: T) -> bool {
        let i = self.ranges.partition_point(|(_, hi)| *hi < v);
        self.ranges.get(i).is_some_and(|(lo, _)| *lo <= v)
    }

    pub fn contains_range(&self, lo: T, hi: T) -> bool {
        let i = self.ranges.partition_point(|(_, h)| *h < lo);
        self.ranges.get(i).is_some_and(|(l, h)| *l <= lo && hi <= *h)
    }

    /// Subset test: every value of `other` is in `self` (RES-8 "encompass").
    pub fn contains(&self, other: &Self) -> bool {
        let mut i = 0;
        for &(lo, hi) in &other.ranges {
            while i < self.ranges.len() && self.ranges[i].1 < lo {
                i += 1;
            }
            match self.ranges.get(i) {
                Some(&(l, h)) if l <= lo && hi <= h => {}
                _ => return false,
            }
        }
        true
    }

    pub fn union(&self, other: &Self) -> Self {
        Self::from_ranges(self.ranges.iter().chain(other.ranges.iter()).copied())
    }

    pub fn intersection(&self, other: &Self) -> Self {
        let (a, b) = (&self.ranges, &other.ranges);
        let (mut i, mut j) = (0, 0);
        let mut out = Vec::new();
        while i < a.len() && j < b.len() {
            let lo = a[i].0.max(b[j].0);
            let hi = a[i].1.min(b[j].1);
            if lo <= hi {
                out.push((lo, hi));
            }
            if a[i].1 < b[j].1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        RangeSet { ranges: out }
    }

    /// Values of `self` not in `other`.
    pub fn difference(&self, other: &Self) -> Self {
        let mut out = Vec::new();
        let b = &other.ranges;
        let mut j = 0;
        for &(lo, hi) in &self.ranges {
            let mut cur = Some(lo);
            while j < b.len() && b[j].1 < lo {
                j += 1;
            }
            let mut k = j;
            while let Some(start) = cur {
                match b.get(k) {
                    Some(&(blo, bhi)) if blo <= hi => {
                        if blo > start {
                            out.push((start, blo.pred().unwrap_or(blo)));
                        }
                        cur = if bhi >= hi { None } else { bhi.succ() };
                        k += 1;
                    }
                    _ => {
                        out.push((start, hi));
                        cur = None;
                    }
                }
            }
        }
        RangeSet { ranges: out }
    }

    pub fn intersects(&self, other: &Self) -> bool {
        !self.intersection(other).is_empty()
    }
}
