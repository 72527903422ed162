//! Operations: a name plus tags, declared once and reused for every call.
//!
//! An [`Op`] plays the role of the Python prototype's decorator arguments. It is an
//! `Arc` inside, so cloning it is one reference-count increment.
//!
//! # Tags
//!
//! - [`Weight`]: how expensive one call is. It decides the lane a task waits in and
//!   how thieves may move it (see the crate docs, "Stealing rules").
//! - [`Op::sticky_anchor`]: every *active* token with the same anchor runs on one
//!   worker (see [`locality`](crate::Handle::anchor_worker)).
//! - [`Op::external_calls`]: the op is a *lead*; each call opens a locality domain.
//!
//! An op can be sticky or a lead, never both. This is enforced by the type: the
//! methods live on `Op<Free>` only and return `Op<Sticky>` or `Op<Lead>`, which
//! have neither method, so the mistake does not compile:
//!
//! ```compile_fail
//! use tokengate::Op;
//! let op = Op::new("x").sticky_anchor("a").external_calls(["child"]);
//! ```

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::registry::OpId;

/// How expensive one call of an operation is. The default is `Medium`.
///
/// ```
/// use tokengate::{Op, Weight};
/// assert_eq!(Op::new("x").weight_of(), Weight::Medium);
/// assert_eq!(Op::new("x").weight(Weight::Heavy).weight_of(), Weight::Heavy);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Weight {
    /// Microseconds of work. Only worth moving between cores in batches.
    Light,
    /// The default: tens of microseconds to a few milliseconds.
    #[default]
    Medium,
    /// Milliseconds or more. Worth migrating one at a time; capped by
    /// [`Builder::reserve_for_light`](crate::Builder::reserve_for_light).
    Heavy,
}

impl Weight {
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Type-state marker: an op with no locality tag.
#[derive(Debug, Clone, Copy)]
pub enum Free {}
/// Type-state marker: an op with a sticky anchor.
#[derive(Debug, Clone, Copy)]
pub enum Sticky {}
/// Type-state marker: a lead op (it has `external_calls`).
#[derive(Debug, Clone, Copy)]
pub enum Lead {}

/// The locality tag an op carries, as stored at run time.
#[derive(Debug, Clone)]
pub(crate) enum Tag {
    None,
    /// The anchor's name and its precomputed hash (used to pick a table slot).
    Sticky {
        anchor: Arc<str>,
        hash: u64,
    },
    /// The declared external calls, hashed into each domain's seed.
    Lead {
        calls: Arc<[String]>,
    },
}

#[derive(Debug)]
struct OpInner {
    name: Arc<str>,
    /// The interned name (`registry.rs`): what tasks carry instead of the name.
    id: OpId,
    weight: Weight,
    tag: Tag,
    // ----- control plane (src/control/) -----
    /// `Op::deadline`: a task not started this long after its spawn resolves `Expired`.
    deadline: Option<std::time::Duration>,
    /// `deadline` as a task stores it (`Meta::deadline_ns`): nanoseconds, 0 for none.
    deadline_ns: u64,
}

/// A declared operation: a name, a [`Weight`] and at most one locality tag.
///
/// `K` is [`Free`] (the default), [`Sticky`] or [`Lead`].
///
/// ```
/// use tokengate::{Coordinator, Op, Weight};
///
/// let gate = Coordinator::builder().workers(2).build().unwrap();
/// let op = Op::new("prime_check").weight(Weight::Medium);
/// let t = gate.spawn(&op, || (2..97u64).all(|d| 97 % d != 0));
/// assert_eq!(t.wait(), Ok(true));
/// ```
pub struct Op<K = Free> {
    inner: Arc<OpInner>,
    _kind: PhantomData<fn() -> K>,
}

impl<K> Clone for Op<K> {
    fn clone(&self) -> Self {
        Op {
            inner: Arc::clone(&self.inner),
            _kind: PhantomData,
        }
    }
}

impl<K> fmt::Debug for Op<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Op")
            .field("name", &self.inner.name)
            .field("weight", &self.inner.weight)
            .field("tag", &self.inner.tag)
            .finish()
    }
}

impl Op<Free> {
    /// Declares an operation with the default weight (`Medium`) and no locality tag.
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        Op::build(name.into(), Weight::default(), Tag::None)
    }

    /// Makes every active token of this op (and of any op with the same anchor) run on
    /// one worker. See the crate docs, "Sticky anchors".
    ///
    /// ```
    /// use tokengate::Op;
    /// let op = Op::new("my_op").sticky_anchor("op_token");
    /// assert_eq!(op.anchor(), "op_token");
    /// ```
    pub fn sticky_anchor(self, anchor: impl Into<Arc<str>>) -> Op<Sticky> {
        let anchor: Arc<str> = anchor.into();
        let hash = fnv1a(anchor.as_bytes());
        Op::build(self.inner.name.clone(), self.inner.weight, Tag::Sticky { anchor, hash }).keep_deadline(&self)
    }

    /// Makes this op a *lead*: each call opens a locality domain whose seed is the
    /// SHA-256 of the token id and this call list. See the crate docs, "Lead domains".
    ///
    /// ```
    /// use tokengate::Op;
    /// let lead = Op::new("lead_op").external_calls(["child_op"]);
    /// assert_eq!(lead.calls(), ["child_op".to_string()]);
    /// ```
    pub fn external_calls<I, S>(self, calls: I) -> Op<Lead>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let calls: Arc<[String]> = calls.into_iter().map(Into::into).collect();
        Op::build(self.inner.name.clone(), self.inner.weight, Tag::Lead { calls }).keep_deadline(&self)
    }
}

impl<K> Op<K> {
    fn build(name: Arc<str>, weight: Weight, tag: Tag) -> Self {
        Op {
            inner: Arc::new(OpInner {
                id: OpId::intern(&name),
                name,
                weight,
                tag,
                deadline: None,
                deadline_ns: 0,
            }),
            _kind: PhantomData,
        }
    }

    /// Control plane: `self` rebuilt from `from` keeps `from`'s deadline.
    fn keep_deadline<J>(mut self, from: &Op<J>) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => (inner.deadline, inner.deadline_ns) = (from.inner.deadline, from.inner.deadline_ns),
            None => crate::fatal("a freshly built op was shared"),
        }
        self
    }

    /// Returns the op with a deadline: a call not *started* within `limit` of its
    /// spawn never runs and resolves `Err(TaskError::Expired)` (it is resolved when a
    /// worker meets it). Running calls are not interrupted.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tokengate::{Coordinator, Op};
    /// let gate = Coordinator::builder().workers(1).build().unwrap();
    /// let op = Op::new("render").deadline(Duration::from_secs(5));
    /// assert_eq!(op.deadline_of(), Some(Duration::from_secs(5)));
    /// assert_eq!(gate.spawn(&op, || 7).wait(), Ok(7));    // started in time
    /// ```
    #[must_use]
    pub fn deadline(self, limit: std::time::Duration) -> Self {
        let mut op = Op::build(self.inner.name.clone(), self.inner.weight, self.inner.tag.clone());
        match Arc::get_mut(&mut op.inner) {
            Some(inner) => {
                inner.deadline = Some(limit);
                inner.deadline_ns = u64::try_from(limit.as_nanos()).unwrap_or(u64::MAX).max(1);
            }
            None => crate::fatal("a freshly built op was shared"),
        }
        op
    }

    /// The op's deadline, if it has one.
    pub fn deadline_of(&self) -> Option<std::time::Duration> {
        self.inner.deadline
    }

    /// The deadline as stored in a task (`Meta::deadline_ns`): nanoseconds, 0 for none.
    #[inline]
    pub(crate) fn deadline_ns(&self) -> u64 {
        self.inner.deadline_ns
    }

    /// Returns the op with another weight, keeping its name and tags.
    #[must_use]
    pub fn weight(self, weight: Weight) -> Self {
        Op::build(self.inner.name.clone(), weight, self.inner.tag.clone()).keep_deadline(&self)
    }

    /// The op's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The op's weight.
    pub fn weight_of(&self) -> Weight {
        self.inner.weight
    }

    /// The interned name, carried by every task of this op.
    pub(crate) fn id(&self) -> OpId {
        self.inner.id
    }

    pub(crate) fn tag(&self) -> &Tag {
        &self.inner.tag
    }
}

impl Op<Sticky> {
    /// The sticky anchor.
    pub fn anchor(&self) -> &str {
        match &self.inner.tag {
            Tag::Sticky { anchor, .. } => anchor,
            _ => crate::fatal("Op<Sticky> without an anchor"),
        }
    }
}

impl Op<Lead> {
    /// The declared external calls.
    pub fn calls(&self) -> &[String] {
        match &self.inner.tag {
            Tag::Lead { calls } => calls,
            _ => &[],
        }
    }
}

/// FNV-1a: a small, stable hash for anchor names (stable across runs, unlike `std`'s
/// randomly keyed `SipHash`, so placement is reproducible).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
