//! Subscription prefixes, matched against a message's first frame: a counted set
//! ([`Subscriptions`], one per SUB and per publisher's peer) and the publisher's index
//! from topic to subscribers ([`TopicIndex`]).
//!
//! Topics are kept in a hash map and grouped by length, so a match costs one lookup per
//! distinct topic length no longer than the frame (in practice a handful), instead of a
//! walk over every subscription or every subscriber.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;

use super::PeerId;

/// The publisher's subscriptions: for each topic, the peers subscribed to it, so a
/// fan-out visits the matching peers only (libzmq's `mtrie` does the same), whatever
/// the number of subscribers that match nothing.
#[derive(Default)]
pub(crate) struct TopicIndex {
    peers: HashMap<Bytes, Vec<PeerId>>,
    /// Number of distinct topics of each length.
    lengths: BTreeMap<usize, usize>,
}

impl TopicIndex {
    /// Adds `peer` to `topic` (the caller keeps each pair at most once); true when the
    /// topic had no subscriber.
    pub(crate) fn add(&mut self, topic: &[u8], peer: PeerId) -> bool {
        if let Some(v) = self.peers.get_mut(topic) {
            v.push(peer);
            return false;
        }
        self.peers.insert(Bytes::copy_from_slice(topic), vec![peer]);
        *self.lengths.entry(topic.len()).or_insert(0) += 1;
        true
    }

    /// Removes `peer` from `topic`; true when that was the topic's last subscriber.
    pub(crate) fn remove(&mut self, topic: &[u8], peer: PeerId) -> bool {
        let Some(v) = self.peers.get_mut(topic) else {
            return false;
        };
        let Some(i) = v.iter().position(|&p| p == peer) else {
            return false;
        };
        v.swap_remove(i);
        if !v.is_empty() {
            return false;
        }
        self.peers.remove(topic);
        if let Some(c) = self.lengths.get_mut(&topic.len()) {
            *c -= 1;
            if *c == 0 {
                self.lengths.remove(&topic.len());
            }
        }
        true
    }

    /// The peers subscribed to exactly `topic` (RADIO groups).
    pub(crate) fn exact<'a>(&'a self, topic: &[u8]) -> impl Iterator<Item = PeerId> + 'a {
        self.peers.get(topic).into_iter().flatten().copied()
    }

    /// The number of distinct topics with a subscriber.
    pub(crate) fn len(&self) -> usize {
        self.peers.len()
    }

    /// The peers subscribed to a prefix of `data` (a peer subscribed to several such
    /// prefixes comes once per prefix).
    pub(crate) fn matching<'a>(&'a self, data: &'a [u8]) -> impl Iterator<Item = PeerId> + 'a {
        self.lengths
            .keys()
            .take_while(move |&&len| len <= data.len())
            .filter_map(move |&len| self.peers.get(&data[..len]))
            .flatten()
            .copied()
    }
}

/// Subscriptions with counts: adding a topic twice needs two removals.
#[derive(Clone, Debug, Default)]
pub(crate) struct Subscriptions {
    topics: HashMap<Bytes, u32>,
    /// Number of distinct topics of each length.
    lengths: BTreeMap<usize, usize>,
}

impl Subscriptions {
    /// Adds one reference to `topic`; true when it is new.
    pub(crate) fn add(&mut self, topic: &[u8]) -> bool {
        if let Some(n) = self.topics.get_mut(topic) {
            *n += 1;
            return false;
        }
        self.topics.insert(Bytes::copy_from_slice(topic), 1);
        *self.lengths.entry(topic.len()).or_insert(0) += 1;
        true
    }

    /// Removes one reference to `topic`; true when that was the last one.
    pub(crate) fn remove(&mut self, topic: &[u8]) -> bool {
        let Some(n) = self.topics.get_mut(topic) else {
            return false;
        };
        *n -= 1;
        if *n > 0 {
            return false;
        }
        self.topics.remove(topic);
        if let Some(c) = self.lengths.get_mut(&topic.len()) {
            *c -= 1;
            if *c == 0 {
                self.lengths.remove(&topic.len());
            }
        }
        true
    }

    /// True when `topic` is subscribed (exactly).
    pub(crate) fn contains(&self, topic: &[u8]) -> bool {
        self.topics.contains_key(topic)
    }

    /// True when some subscription is a prefix of `data`.
    pub(crate) fn matches(&self, data: &[u8]) -> bool {
        // The empty topic (subscribe to everything) needs no lookup.
        if self
            .lengths
            .first_key_value()
            .is_some_and(|(&len, _)| len == 0)
        {
            return true;
        }
        self.lengths
            .keys()
            .take_while(|&&len| len <= data.len())
            .any(|&len| self.topics.contains_key(&data[..len]))
    }

    /// The number of distinct topics.
    pub(crate) fn len(&self) -> usize {
        self.topics.len()
    }

    /// The distinct topics.
    pub(crate) fn topics(&self) -> impl Iterator<Item = &Bytes> {
        self.topics.keys()
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.topics.is_empty()
    }
}

#[cfg(test)]
mod tests {
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
        assert!(idx.peers.is_empty() && idx.lengths.is_empty());
    }

    #[test]
    fn matches_like_a_naive_model() {
        let topics: [&[u8]; 5] = [b"", b"a", b"ab", b"b", b"abc"];
        let data: [&[u8]; 6] = [b"", b"a", b"ab", b"abcd", b"ba", b"c"];
        for mask in 0u32..32 {
            let mut s = Subscriptions::default();
            let chosen: Vec<&[u8]> = (0..5)
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| topics[i])
                .collect();
            for t in &chosen {
                s.add(t);
            }
            for d in data {
                let naive = chosen.iter().any(|t| d.starts_with(t));
                assert_eq!(s.matches(d), naive, "{chosen:?} {d:?}");
            }
        }
    }
}
