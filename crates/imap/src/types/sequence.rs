//! Sequence sets (RFC 3501 §9 `sequence-set`, RFC 9051 §9).

use std::num::NonZeroU32;

use super::secret::Vec1;

/// One end of a range: a number or `*`, the largest number in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeqNum {
    /// A message sequence number or UID (never 0).
    Value(NonZeroU32),
    /// `*`.
    Largest,
}

/// `seq-number` or `seq-range` (`a:b`, in either order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeqRange {
    /// A single number.
    Single(SeqNum),
    /// `from:to`.
    Range(SeqNum, SeqNum),
}

/// `sequence-set`: one or more numbers and ranges separated by commas, or
/// `$` (RFC 5182 saved search result).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SequenceSet {
    /// A non-empty list of numbers and ranges.
    Set(Vec1<SeqRange>),
    /// `$`: the result of the last `SEARCH RETURN (SAVE)`.
    Saved,
}

impl SequenceSet {
    /// A set, refusing an empty list.
    pub fn new(ranges: Vec<SeqRange>) -> Option<Self> {
        Vec1::try_from(ranges).ok().map(Self::Set)
    }

    /// The set of one number; `None` for 0.
    pub fn single(n: u32) -> Option<Self> {
        Some(Self::Set(Vec1::one(SeqRange::Single(SeqNum::Value(
            NonZeroU32::new(n)?,
        )))))
    }

    /// `from:to`; `None` if either is 0.
    pub fn range(from: u32, to: u32) -> Option<Self> {
        Some(Self::Set(Vec1::one(SeqRange::Range(
            SeqNum::Value(NonZeroU32::new(from)?),
            SeqNum::Value(NonZeroU32::new(to)?),
        ))))
    }

    /// `1:*`: all messages.
    pub fn all() -> Self {
        Self::Set(Vec1::one(SeqRange::Range(
            SeqNum::Value(NonZeroU32::MIN),
            SeqNum::Largest,
        )))
    }

    /// Iterates over the numbers in the set, with `*` standing for `largest`.
    /// Overlaps are yielded twice; the iteration is lazy so a huge range costs nothing up front.
    pub fn iter(&self, largest: u32) -> impl Iterator<Item = u32> + '_ {
        let ranges: &[SeqRange] = match self {
            Self::Set(r) => r,
            Self::Saved => &[],
        };
        let val = move |n: SeqNum| match n {
            SeqNum::Value(v) => v.get(),
            SeqNum::Largest => largest,
        };
        ranges.iter().flat_map(move |r| {
            let (a, b) = match *r {
                SeqRange::Single(n) => (val(n), val(n)),
                SeqRange::Range(a, b) => (val(a), val(b)),
            };
            a.min(b)..=a.max(b)
        })
    }
}
