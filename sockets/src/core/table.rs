//! Peer ids and the tables keyed by them: a slot index plus the slot's generation, so a
//! lookup is an index and a comparison (no hashing on the per-message path), and the id
//! of a peer that left never names the next peer in its slot.

/// A peer of a socket: a connection (current or, on the connect side, expected) with
/// its queues.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct PeerId {
    slot: u32,
    generation: u32,
}

struct Slot<T> {
    generation: u32,
    value: Option<T>,
}

/// The peers: values in slots, reused after removal under a new generation.
pub(crate) struct PeerTable<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    len: usize,
}

impl<T> Default for PeerTable<T> {
    fn default() -> Self {
        PeerTable {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

impl<T> PeerTable<T> {
    pub(crate) fn insert(&mut self, value: T) -> PeerId {
        self.len += 1;
        if let Some(slot) = self.free.pop() {
            let s = &mut self.slots[slot as usize];
            s.value = Some(value);
            return PeerId {
                slot,
                generation: s.generation,
            };
        }
        let slot = u32::try_from(self.slots.len()).expect("fewer than 2^32 peers at once");
        self.slots.push(Slot {
            generation: 0,
            value: Some(value),
        });
        PeerId {
            slot,
            generation: 0,
        }
    }

    pub(crate) fn get(&self, id: PeerId) -> Option<&T> {
        let s = self.slots.get(id.slot as usize)?;
        if s.generation != id.generation {
            return None;
        }
        s.value.as_ref()
    }

    pub(crate) fn get_mut(&mut self, id: PeerId) -> Option<&mut T> {
        let s = self.slots.get_mut(id.slot as usize)?;
        if s.generation != id.generation {
            return None;
        }
        s.value.as_mut()
    }

    pub(crate) fn contains(&self, id: PeerId) -> bool {
        self.get(id).is_some()
    }

    pub(crate) fn remove(&mut self, id: PeerId) -> Option<T> {
        let s = self.slots.get_mut(id.slot as usize)?;
        if s.generation != id.generation {
            return None;
        }
        let value = s.value.take()?;
        s.generation = s.generation.wrapping_add(1);
        self.free.push(id.slot);
        self.len -= 1;
        Some(value)
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().filter_map(|s| s.value.as_ref())
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (PeerId, &T)> {
        self.slots.iter().enumerate().filter_map(|(i, s)| {
            let generation = s.generation;
            s.value.as_ref().map(|v| {
                let id = PeerId {
                    slot: i as u32,
                    generation,
                };
                (id, v)
            })
        })
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (PeerId, &mut T)> {
        self.slots.iter_mut().enumerate().filter_map(|(i, s)| {
            let generation = s.generation;
            s.value.as_mut().map(|v| {
                let id = PeerId {
                    slot: i as u32,
                    generation,
                };
                (id, v)
            })
        })
    }
}

/// Values attached to existing peer ids (the shell's links), in a vector indexed by the
/// ids' slots.
pub(crate) struct PeerSlots<T> {
    slots: Vec<Option<(PeerId, T)>>,
}

impl<T> Default for PeerSlots<T> {
    fn default() -> Self {
        PeerSlots { slots: Vec::new() }
    }
}

impl<T> PeerSlots<T> {
    pub(crate) fn insert(&mut self, id: PeerId, value: T) {
        let i = id.slot as usize;
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, || None);
        }
        self.slots[i] = Some((id, value));
    }

    pub(crate) fn get(&self, id: PeerId) -> Option<&T> {
        match self.slots.get(id.slot as usize)? {
            Some((stored, value)) if *stored == id => Some(value),
            _ => None,
        }
    }

    pub(crate) fn remove(&mut self, id: PeerId) -> Option<T> {
        let slot = self.slots.get_mut(id.slot as usize)?;
        match slot {
            Some((stored, _)) if *stored == id => slot.take().map(|(_, v)| v),
            _ => None,
        }
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().filter_map(|s| s.as_ref().map(|(_, v)| v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_of_removed_peers_never_name_their_successors() {
        let mut t = PeerTable::default();
        let a = t.insert("a");
        let b = t.insert("b");
        assert_eq!(t.remove(a), Some("a"));
        assert_eq!(t.remove(a), None);
        let c = t.insert("c");
        assert_ne!(a, c, "same slot, new generation");
        assert_eq!(t.get(a), None);
        assert_eq!(t.get(c), Some(&"c"));
        assert_eq!(t.len(), 2);
        let mut seen: Vec<_> = t.iter_mut().map(|(id, v)| (id, *v)).collect();
        seen.sort();
        assert_eq!(seen, [(c, "c"), (b, "b")]);

        let mut links = PeerSlots::default();
        links.insert(c, 1);
        assert_eq!(links.get(a), None, "a stale id finds nothing");
        assert_eq!(links.get(c), Some(&1));
        assert_eq!(links.remove(a), None);
        assert_eq!(links.remove(c), Some(1));
        assert_eq!(links.values().count(), 0);
    }
}
