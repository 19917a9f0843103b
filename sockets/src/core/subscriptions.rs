//! Subscription prefixes, matched against a message's first frame: a counted set
//! ([`Subscriptions`], one per SUB and per publisher's peer) and the publisher's index
//! from topic to subscribers ([`TopicIndex`]).
//!
//! Both are a [`PrefixTrie`]: a compact radix trie over bytes (each edge holds a run of
//! bytes, a node with no value has at least two children), so matching a frame is one
//! walk down from the root, visiting only the topics that are prefixes of it, whatever
//! the number of topics, their lengths or the number of subscribers that match nothing.
//! The common case, everybody subscribed to the empty topic, is the root's value: no
//! walk and no hashing at all.

use bytes::Bytes;

use super::PeerId;

/// A node of a [`PrefixTrie`]: the bytes of the edge from its parent, the value of the
/// key ending here, and the children by the first byte of their edge (sorted).
#[derive(Clone, Debug)]
struct Node<V> {
    label: Box<[u8]>,
    value: Option<V>,
    children: Vec<(u8, u32)>,
}

impl<V> Node<V> {
    fn new(label: &[u8], value: Option<V>) -> Node<V> {
        Node {
            label: label.into(),
            value,
            children: Vec::new(),
        }
    }

    /// The child whose edge starts with `b`.
    #[inline]
    fn child(&self, b: u8) -> Option<u32> {
        // Most nodes have a handful of children: a scan beats a binary search there.
        if self.children.len() <= 8 {
            return self.children.iter().find(|c| c.0 == b).map(|c| c.1);
        }
        self.children
            .binary_search_by_key(&b, |c| c.0)
            .ok()
            .map(|i| self.children[i].1)
    }

    fn set_child(&mut self, b: u8, id: u32) {
        match self.children.binary_search_by_key(&b, |c| c.0) {
            Ok(i) => self.children[i].1 = id,
            Err(i) => self.children.insert(i, (b, id)),
        }
    }

    fn remove_child(&mut self, b: u8) {
        if let Ok(i) = self.children.binary_search_by_key(&b, |c| c.0) {
            self.children.remove(i);
        }
    }
}

/// A compact radix trie from byte strings to `V`, in an arena (node 0 is the root, made
/// at the first insertion: an empty trie allocates nothing). Removing a key merges the
/// nodes it leaves without a value and with one child, so the trie holds at most
/// `2 * len() + 1` nodes.
#[derive(Clone, Debug)]
pub(crate) struct PrefixTrie<V> {
    nodes: Vec<Node<V>>,
    /// Slots of removed nodes, reused first.
    free: Vec<u32>,
    /// Number of keys with a value.
    len: usize,
}

impl<V> Default for PrefixTrie<V> {
    fn default() -> Self {
        PrefixTrie {
            nodes: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

/// Length of the common prefix of `a` and `b`.
fn common(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

impl<V> PrefixTrie<V> {
    fn alloc(&mut self, node: Node<V>) -> u32 {
        match self.free.pop() {
            Some(id) => {
                self.nodes[id as usize] = node;
                id
            }
            None => {
                self.nodes.push(node);
                u32::try_from(self.nodes.len() - 1).expect("fewer than 2^32 trie nodes")
            }
        }
    }

    /// Frees `id`'s slot (its label and children go now, not at reuse).
    fn release(&mut self, id: u32) {
        let n = &mut self.nodes[id as usize];
        n.label = Box::default();
        n.children = Vec::new();
        n.value = None;
        self.free.push(id);
    }

    /// The number of keys.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The node of exactly `key` (it may hold no value), with its parent and the first
    /// byte of its edge (the root's are `(0, 0)`).
    fn find(&self, key: &[u8]) -> Option<(u32, (u32, u8))> {
        self.nodes.first()?;
        let mut parent = (0u32, 0u8);
        let mut id = 0u32;
        let mut rest = key;
        while let Some(&b) = rest.first() {
            let child = self.nodes[id as usize].child(b)?;
            rest = rest.strip_prefix(&*self.nodes[child as usize].label)?;
            parent = (id, b);
            id = child;
        }
        Some((id, parent))
    }

    /// The value of exactly `key`.
    pub(crate) fn get(&self, key: &[u8]) -> Option<&V> {
        let (id, _) = self.find(key)?;
        self.nodes[id as usize].value.as_ref()
    }

    /// The value of `key`, made with `make` if there is none; true when made.
    pub(crate) fn get_or_insert_with(
        &mut self,
        key: &[u8],
        make: impl FnOnce() -> V,
    ) -> (&mut V, bool) {
        if self.nodes.is_empty() {
            self.nodes.push(Node::new(&[], None));
        }
        let mut id = 0u32;
        let mut rest = key;
        while let Some(&b) = rest.first() {
            let Some(child) = self.nodes[id as usize].child(b) else {
                let leaf = self.alloc(Node::new(rest, None));
                self.nodes[id as usize].set_child(b, leaf);
                id = leaf;
                break;
            };
            let label = &self.nodes[child as usize].label;
            let same = common(label, rest);
            if same < label.len() {
                // The key leaves the edge part-way: split it at that point.
                let head: Box<[u8]> = label[..same].into();
                let tail: Box<[u8]> = label[same..].into();
                let mut mid = Node::new(&head, None);
                mid.children.push((tail[0], child));
                self.nodes[child as usize].label = tail;
                let mid = self.alloc(mid);
                self.nodes[id as usize].set_child(b, mid);
                id = mid;
            } else {
                id = child;
            }
            rest = &rest[same..];
        }
        let slot = &mut self.nodes[id as usize].value;
        let made = slot.is_none();
        if made {
            *slot = Some(make());
            self.len += 1;
        }
        (slot.as_mut().expect("set above"), made)
    }

    /// Applies `f` to the value of exactly `key`, if any; when `f` returns true the key
    /// is removed. Returns `None` when the key is absent, else what `f` returned.
    pub(crate) fn update(&mut self, key: &[u8], f: impl FnOnce(&mut V) -> bool) -> Option<bool> {
        let (id, (parent, b)) = self.find(key)?;
        let remove = f(self.nodes[id as usize].value.as_mut()?);
        if !remove {
            return Some(false);
        }
        self.nodes[id as usize].value = None;
        self.len -= 1;
        if id == 0 {
            return Some(true);
        }
        match self.nodes[id as usize].children.len() {
            0 => {
                self.nodes[parent as usize].remove_child(b);
                self.release(id);
                // The parent may be left with no value and one child.
                let p = &self.nodes[parent as usize];
                if parent != 0 && p.value.is_none() && p.children.len() == 1 {
                    self.merge(parent);
                }
            }
            1 => self.merge(id),
            _ => {}
        }
        Some(true)
    }

    /// Merges `id` (no value, one child) with its child, which takes its place.
    fn merge(&mut self, id: u32) {
        let child = self.nodes[id as usize].children[0].1;
        let taken = std::mem::replace(&mut self.nodes[child as usize], Node::new(&[], None));
        let node = &mut self.nodes[id as usize];
        let mut label = std::mem::take(&mut node.label).into_vec();
        label.extend_from_slice(&taken.label);
        node.label = label.into();
        node.value = taken.value;
        node.children = taken.children;
        self.release(child);
    }

    /// The values of the keys that are prefixes of `data`, shortest first.
    pub(crate) fn prefixes<'a>(&'a self, data: &'a [u8]) -> Prefixes<'a, V> {
        Prefixes {
            trie: self,
            data,
            next: if self.nodes.is_empty() { None } else { Some(0) },
        }
    }

    /// True when some key is a prefix of `data`: the root's value (the empty key)
    /// answers at once, else the walk of [`PrefixTrie::prefixes`] stops at the first key.
    #[inline]
    pub(crate) fn has_prefix_of(&self, data: &[u8]) -> bool {
        match self.nodes.first() {
            None => false,
            Some(root) if root.value.is_some() => true,
            Some(_) => self.prefixes(data).next().is_some(),
        }
    }

    /// Every key, in byte order (shorter first).
    pub(crate) fn keys(&self) -> Vec<Bytes> {
        let mut out = Vec::with_capacity(self.len);
        if self.nodes.is_empty() {
            return out;
        }
        let mut key = Vec::new();
        self.collect(0, &mut key, &mut out);
        out
    }

    fn collect(&self, id: u32, key: &mut Vec<u8>, out: &mut Vec<Bytes>) {
        let node = &self.nodes[id as usize];
        let at = key.len();
        key.extend_from_slice(&node.label);
        if node.value.is_some() {
            out.push(Bytes::copy_from_slice(key));
        }
        for &(_, child) in &node.children {
            self.collect(child, key, out);
        }
        key.truncate(at);
    }

    /// Number of nodes in use (the root included).
    #[cfg(test)]
    fn node_count(&self) -> usize {
        self.nodes.len() - self.free.len()
    }

    /// Checks the compactness invariants: every node but the root has a value or at
    /// least two children and a non-empty label; children are sorted by their first
    /// byte, which is their label's.
    #[cfg(test)]
    fn check(&self) {
        let mut seen = 0;
        let mut values = 0;
        let mut stack = if self.nodes.is_empty() {
            vec![]
        } else {
            vec![0u32]
        };
        while let Some(id) = stack.pop() {
            seen += 1;
            let n = &self.nodes[id as usize];
            values += usize::from(n.value.is_some());
            if id != 0 {
                assert!(!n.label.is_empty(), "node {id} has an empty edge");
                assert!(
                    n.value.is_some() || n.children.len() >= 2,
                    "node {id} has no value and {} children",
                    n.children.len()
                );
            }
            assert!(n.children.windows(2).all(|w| w[0].0 < w[1].0));
            for &(b, c) in &n.children {
                assert_eq!(self.nodes[c as usize].label[0], b);
                stack.push(c);
            }
        }
        assert_eq!(seen, self.node_count(), "unreachable nodes");
        assert_eq!(values, self.len);
    }
}

/// Iterator of [`PrefixTrie::prefixes`].
pub(crate) struct Prefixes<'a, V> {
    trie: &'a PrefixTrie<V>,
    data: &'a [u8],
    /// The next node to visit; `data` is what is left after its edge.
    next: Option<u32>,
}

impl<'a, V> Iterator for Prefixes<'a, V> {
    type Item = &'a V;

    #[inline]
    fn next(&mut self) -> Option<&'a V> {
        let nodes = &self.trie.nodes;
        while let Some(id) = self.next {
            let node = &nodes[id as usize];
            self.next = None;
            if let Some(&b) = self.data.first() {
                if let Some(child) = node.child(b) {
                    if let Some(rest) = self.data.strip_prefix(&*nodes[child as usize].label) {
                        self.data = rest;
                        self.next = Some(child);
                    }
                }
            }
            if let Some(v) = &node.value {
                return Some(v);
            }
        }
        None
    }
}

/// The publisher's subscriptions: for each topic, the peers subscribed to it, so a
/// fan-out visits the matching peers only (libzmq's `mtrie` does the same), whatever
/// the number of subscribers that match nothing.
#[derive(Default)]
pub(crate) struct TopicIndex {
    trie: PrefixTrie<Vec<PeerId>>,
}

impl TopicIndex {
    /// Adds `peer` to `topic` (the caller keeps each pair at most once); true when the
    /// topic had no subscriber.
    pub(crate) fn add(&mut self, topic: &[u8], peer: PeerId) -> bool {
        let (peers, made) = self.trie.get_or_insert_with(topic, Vec::new);
        peers.push(peer);
        made
    }

    /// Removes `peer` from `topic`; true when that was the topic's last subscriber.
    pub(crate) fn remove(&mut self, topic: &[u8], peer: PeerId) -> bool {
        self.trie.update(topic, |peers| {
            if let Some(i) = peers.iter().position(|&p| p == peer) {
                peers.swap_remove(i);
                peers.is_empty()
            } else {
                false
            }
        }) == Some(true)
    }

    /// The peers subscribed to exactly `topic` (RADIO groups).
    pub(crate) fn exact<'a>(&'a self, topic: &[u8]) -> impl Iterator<Item = PeerId> + 'a {
        self.trie.get(topic).into_iter().flatten().copied()
    }

    /// The number of distinct topics with a subscriber.
    pub(crate) fn len(&self) -> usize {
        self.trie.len()
    }

    /// The peers subscribed to a prefix of `data` (a peer subscribed to several such
    /// prefixes comes once per prefix).
    #[inline]
    pub(crate) fn matching<'a>(&'a self, data: &'a [u8]) -> impl Iterator<Item = PeerId> + 'a {
        self.trie.prefixes(data).flatten().copied()
    }

    /// [`TopicIndex::matching`] a topic at a time: the subscribers of each prefix of
    /// `data`, shortest first (a loop over each list costs less per peer than the
    /// flattened iterator).
    #[inline]
    pub(crate) fn matching_lists<'a>(&'a self, data: &'a [u8]) -> Prefixes<'a, Vec<PeerId>> {
        self.trie.prefixes(data)
    }
}

/// Subscriptions with counts: adding a topic twice needs two removals.
#[derive(Clone, Debug, Default)]
pub(crate) struct Subscriptions {
    trie: PrefixTrie<u32>,
}

impl Subscriptions {
    /// Adds one reference to `topic`; true when it is new.
    pub(crate) fn add(&mut self, topic: &[u8]) -> bool {
        let (n, made) = self.trie.get_or_insert_with(topic, || 0);
        *n += 1;
        made
    }

    /// Removes one reference to `topic`; true when that was the last one.
    pub(crate) fn remove(&mut self, topic: &[u8]) -> bool {
        self.trie.update(topic, |n| {
            *n -= 1;
            *n == 0
        }) == Some(true)
    }

    /// True when `topic` is subscribed (exactly).
    pub(crate) fn contains(&self, topic: &[u8]) -> bool {
        self.trie.get(topic).is_some()
    }

    /// True when some subscription is a prefix of `data` (the empty topic, subscribe to
    /// everything, is the root: no walk).
    #[inline]
    pub(crate) fn matches(&self, data: &[u8]) -> bool {
        self.trie.has_prefix_of(data)
    }

    /// The number of distinct topics.
    pub(crate) fn len(&self) -> usize {
        self.trie.len()
    }

    /// The distinct topics, in byte order.
    pub(crate) fn topics(&self) -> Vec<Bytes> {
        self.trie.keys()
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.trie.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn prefix_matching() {
        let mut s = Subscriptions::default();
        assert!(!s.matches(b"anything"));
        assert!(s.add(b"ab"));
        assert!(s.add(b"xyz"));
        assert!(s.matches(b"abc"));
        assert!(s.matches(b"ab"));
        assert!(!s.matches(b"a"));
        assert!(s.matches(b"xyz1"));
        assert!(!s.matches(b"xy"));
        assert!(s.add(b""));
        assert!(s.matches(b""), "the empty topic matches everything");
        assert!(s.remove(b""));
        assert!(!s.matches(b"q"));
    }

    #[test]
    fn counted() {
        let mut s = Subscriptions::default();
        assert!(s.add(b"a"));
        assert!(!s.add(b"a"));
        assert!(!s.remove(b"a"));
        assert!(s.matches(b"a1"));
        assert!(s.remove(b"a"));
        assert!(!s.matches(b"a1"));
        assert!(!s.remove(b"a"), "removing an absent topic is a no-op");
        assert!(s.is_empty());
    }

    #[test]
    fn the_index_finds_the_subscribers_of_every_matching_prefix() {
        use super::super::table::PeerTable;
        let mut table = PeerTable::default();
        let (a, b, c) = (table.insert(()), table.insert(()), table.insert(()));
        let mut idx = TopicIndex::default();
        assert!(idx.add(b"news", a));
        assert!(!idx.add(b"news", b));
        assert!(idx.add(b"", c));
        assert!(idx.add(b"n", a));
        let mut got: Vec<_> = idx.matching(b"news.1").collect();
        got.sort();
        let mut want = vec![a, a, b, c];
        want.sort();
        assert_eq!(got, want, "a twice: subscribed to two prefixes");
        assert_eq!(idx.matching(b"sport").collect::<Vec<_>>(), [c]);
        assert!(!idx.remove(b"news", a));
        assert!(idx.remove(b"news", b), "the last subscriber");
        assert!(!idx.remove(b"news", b), "not subscribed any more");
        assert_eq!(idx.matching(b"news").count(), 2);
        assert!(idx.remove(b"", c));
        assert!(idx.remove(b"n", a));
        assert_eq!(idx.len(), 0);
        assert_eq!(idx.trie.node_count(), 1, "only the root is left");
    }

    #[test]
    fn edges_split_and_merge_back() {
        let mut t = PrefixTrie::default();
        for k in [&b"abcd"[..], b"abxy", b"ab", b"abc", b"b", b""] {
            assert!(t.get_or_insert_with(k, || k.len()).1);
            t.check();
        }
        assert_eq!(
            t.keys(),
            [&b""[..], b"ab", b"abc", b"abcd", b"abxy", b"b"].map(Bytes::from_static)
        );
        let found: Vec<usize> = t.prefixes(b"abcde").copied().collect();
        assert_eq!(found, [0, 2, 3, 4]);
        for k in [&b"ab"[..], b"abc", b"", b"abxy", b"b"] {
            assert_eq!(t.update(k, |_| true), Some(true));
            t.check();
        }
        assert_eq!(t.node_count(), 2, "the root and abcd in one edge");
        assert_eq!(t.get(b"abcd"), Some(&4));
        assert_eq!(t.get(b"abc"), None);
        assert_eq!(t.update(b"abc", |_| true), None);
    }

    /// Operations of the property tests: keys over a three-letter alphabet, so that
    /// prefixes, shared edges and splits are frequent.
    #[derive(Clone, Debug)]
    enum Op {
        Add(Vec<u8>, u8),
        Remove(Vec<u8>, u8),
        Match(Vec<u8>),
    }

    fn key(max: usize) -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(prop::sample::select(vec![b'a', b'b', b'c']), 0..=max)
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (key(5), 0u8..4).prop_map(|(k, p)| Op::Add(k, p)),
            (key(5), 0u8..4).prop_map(|(k, p)| Op::Remove(k, p)),
            key(7).prop_map(Op::Match),
        ]
    }

    proptest! {
        /// Subscriptions against a map of counts: adds and removes answer the same
        /// (new topic, last reference), matching agrees with a scan, and the trie
        /// stays compact.
        #[test]
        fn subscriptions_behave_like_counted_prefixes(ops in prop::collection::vec(op(), 0..120)) {
            let mut s = Subscriptions::default();
            let mut model: BTreeMap<Vec<u8>, u32> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Add(k, _) => {
                        let n = model.entry(k.clone()).or_insert(0);
                        *n += 1;
                        prop_assert_eq!(s.add(&k), *n == 1);
                    }
                    Op::Remove(k, _) => {
                        let last = match model.get_mut(&k) {
                            Some(n) => {
                                *n -= 1;
                                *n == 0
                            }
                            None => false,
                        };
                        if last {
                            model.remove(&k);
                        }
                        prop_assert_eq!(s.remove(&k), last);
                    }
                    Op::Match(d) => {
                        let naive = model.keys().any(|t| d.starts_with(t));
                        prop_assert_eq!(s.matches(&d), naive);
                        prop_assert_eq!(s.contains(&d), model.contains_key(&d));
                    }
                }
                s.trie.check();
                prop_assert_eq!(s.len(), model.len());
                prop_assert!(s.trie.node_count() <= 2 * model.len() + 1);
            }
            let topics: Vec<Vec<u8>> = s.topics().iter().map(|t| t.to_vec()).collect();
            let want: Vec<Vec<u8>> = model.keys().cloned().collect();
            prop_assert_eq!(topics, want);
        }

        /// The index against a map from topic to peers: the first subscriber and the
        /// last one are reported, and a match yields each peer once per subscribed
        /// prefix of the data.
        #[test]
        fn the_index_matches_like_a_scan(ops in prop::collection::vec(op(), 0..120)) {
            use super::super::table::PeerTable;
            let mut table = PeerTable::default();
            let ids: Vec<PeerId> = (0..4).map(|_| table.insert(())).collect();
            let mut idx = TopicIndex::default();
            let mut model: BTreeMap<Vec<u8>, BTreeSet<u8>> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Add(k, p) => {
                        // The caller keeps each (topic, peer) pair at most once.
                        let set = model.entry(k.clone()).or_default();
                        if set.insert(p) {
                            prop_assert_eq!(idx.add(&k, ids[p as usize]), set.len() == 1);
                        }
                    }
                    Op::Remove(k, p) => {
                        let (had, last) = match model.get_mut(&k) {
                            Some(set) => (set.remove(&p), set.is_empty()),
                            None => (false, false),
                        };
                        if last {
                            model.remove(&k);
                        }
                        prop_assert_eq!(idx.remove(&k, ids[p as usize]), had && last);
                    }
                    Op::Match(d) => {
                        let mut got: Vec<PeerId> = idx.matching(&d).collect();
                        got.sort();
                        let mut want: Vec<PeerId> = model
                            .iter()
                            .filter(|(t, _)| d.starts_with(t))
                            .flat_map(|(_, set)| set.iter().map(|&p| ids[p as usize]))
                            .collect();
                        want.sort();
                        prop_assert_eq!(got, want);
                        let mut exact: Vec<PeerId> = idx.exact(&d).collect();
                        exact.sort();
                        let mut want: Vec<PeerId> = model
                            .get(&d)
                            .into_iter()
                            .flatten()
                            .map(|&p| ids[p as usize])
                            .collect();
                        want.sort();
                        prop_assert_eq!(exact, want);
                    }
                }
                idx.trie.check();
                prop_assert_eq!(idx.len(), model.len());
            }
        }
    }
}
