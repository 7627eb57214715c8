//! Partitions between machines: groups that cannot reach each other.
//!
//! Contract: a partition lists groups of machines; every machine it does not list is in
//! one more group, together. The empty partition (the default, and what `heal` sets) keeps
//! everyone together. Routers are not the partition's business: the fabric exempts them.

use indexmap::IndexMap;

/// Which group each listed machine is in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Partition {
    group: IndexMap<usize, usize>,
}

impl Partition {
    /// Groups of machine indexes. A machine listed twice stays in its first group (the
    /// scenario refuses that before it gets here).
    pub fn new(groups: &[Vec<usize>]) -> Partition {
        let mut group = IndexMap::new();
        for (g, machines) in groups.iter().enumerate() {
            for &m in machines {
                group.entry(m).or_insert(g);
            }
        }
        Partition { group }
    }

    /// Whether `a` and `b` are in the same group.
    pub fn together(&self, a: usize, b: usize) -> bool {
        self.group.get(&a) == self.group.get(&b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlisted_machines_form_one_more_group() {
        let p = Partition::new(&[vec![0], vec![1, 2]]);
        assert!(p.together(1, 2));
        assert!(!p.together(0, 1));
        assert!(!p.together(0, 3));
        assert!(!p.together(2, 3));
        assert!(p.together(3, 4));
        assert!(Partition::default().together(0, 1));
    }
}
