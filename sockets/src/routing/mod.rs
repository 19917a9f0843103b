//! Routing strategies: which peer a message goes to, and which peer is read next.
//!
//! - round-robin over peers that can take a message (PUSH, DEALER, REQ): [`next_ready`];
//! - fair-queueing over peers with pending input (PULL, DEALER, ROUTER, SUB, REP, ...):
//!   the same [`next_ready`] over the inbound side;
//! - the routing-id table of ROUTER lives in the socket state (`socket::state`);
//! - subscription matching for PUB / XPUB / SUB: [`trie::Subscriptions`].

pub(crate) mod trie;

/// Starting at `*cursor`, finds the first index in `0..len` for which `ready` holds,
/// and moves the cursor just past it, so that the next search starts at the following
/// peer. That is round-robin on the way out and fair-queueing on the way in.
pub(crate) fn next_ready(
    len: usize,
    cursor: &mut usize,
    mut ready: impl FnMut(usize) -> bool,
) -> Option<usize> {
    // No division: this runs for every message sent and received.
    let mut idx = if *cursor < len { *cursor } else { 0 };
    for _ in 0..len {
        let next = if idx + 1 == len { 0 } else { idx + 1 };
        if ready(idx) {
            *cursor = next;
            return Some(idx);
        }
        idx = next;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_over_ready_entries() {
        let mut cursor = 0;
        let ready = [true, false, true];
        let picks: Vec<_> = (0..4)
            .map(|_| next_ready(3, &mut cursor, |i| ready[i]).unwrap())
            .collect();
        assert_eq!(picks, [0, 2, 0, 2]);
        assert_eq!(next_ready(3, &mut cursor, |_| false), None);
        assert_eq!(next_ready(0, &mut cursor, |_| true), None);
    }
}
