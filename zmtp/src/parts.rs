//! The frames of one received message.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

use bytes::Bytes;

/// The frames of one whole message, in order. A single-frame message (the common case)
/// is held without a heap allocation of its own; several frames are a `Vec`.
///
/// Derefs to `[Bytes]`; [`Parts::into_vec`] and the `From` conversions move between
/// it and `Vec<Bytes>`.
#[derive(Clone, Default)]
pub struct Parts(Repr);

#[derive(Clone)]
enum Repr {
    One(Bytes),
    Many(Vec<Bytes>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Many(Vec::new())
    }
}

impl Parts {
    /// A one-frame message.
    #[inline]
    pub fn one(frame: Bytes) -> Self {
        Parts(Repr::One(frame))
    }

    /// The frames as a vector (allocates for a single frame).
    #[inline]
    pub fn into_vec(self) -> Vec<Bytes> {
        match self.0 {
            Repr::One(b) => vec![b],
            Repr::Many(v) => v,
        }
    }

    /// The single frame of a one-frame message; the parts back otherwise.
    #[inline]
    pub fn into_single(self) -> Result<Bytes, Parts> {
        match self.0 {
            Repr::One(b) => Ok(b),
            Repr::Many(mut v) if v.len() == 1 => Ok(v.pop().expect("one frame")),
            repr => Err(Parts(repr)),
        }
    }
}

impl Deref for Parts {
    type Target = [Bytes];

    #[inline]
    fn deref(&self) -> &[Bytes] {
        match &self.0 {
            Repr::One(b) => std::slice::from_ref(b),
            Repr::Many(v) => v,
        }
    }
}

impl From<Vec<Bytes>> for Parts {
    #[inline]
    fn from(v: Vec<Bytes>) -> Self {
        Parts(Repr::Many(v))
    }
}

impl From<Parts> for Vec<Bytes> {
    fn from(p: Parts) -> Self {
        p.into_vec()
    }
}

impl fmt::Debug for Parts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Equal when the frames are, however they are held.
impl PartialEq for Parts {
    fn eq(&self, other: &Parts) -> bool {
        **self == **other
    }
}

impl Eq for Parts {}

impl Hash for Parts {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }
}

impl PartialEq<Vec<Bytes>> for Parts {
    fn eq(&self, other: &Vec<Bytes>) -> bool {
        **self == other[..]
    }
}

impl PartialEq<[Bytes]> for Parts {
    fn eq(&self, other: &[Bytes]) -> bool {
        **self == *other
    }
}

impl IntoIterator for Parts {
    type Item = Bytes;
    type IntoIter = std::vec::IntoIter<Bytes>;

    fn into_iter(self) -> Self::IntoIter {
        self.into_vec().into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_and_many_compare_by_frames() {
        let one = Parts::one(Bytes::from_static(b"a"));
        let many = Parts::from(vec![Bytes::from_static(b"a")]);
        assert_eq!(one, many, "equal however held");
        assert_eq!(one, vec![Bytes::from_static(b"a")]);
        assert_eq!(one.len(), 1);
        assert_eq!(one.clone().into_vec(), many.clone().into_vec());
        assert_eq!(many.into_single(), Ok(Bytes::from_static(b"a")));
        let two = Parts::from(vec![Bytes::new(), Bytes::from_static(b"b")]);
        assert_eq!(two.len(), 2);
        assert_eq!(two.clone().into_single(), Err(two));
        assert!(Parts::default().is_empty());
    }
}
