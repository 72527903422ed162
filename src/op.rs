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
//! - [`Op::storage_speed`]: the op does blocking I/O; each call runs on the storage
//!   lane of its [`StorageSpeed`] tier, never on a CPU worker (`src/storage/`).
//!
//! An op can be sticky or a lead, never both. This is enforced by the type: the
//! methods live on `Op<Free>` only and return `Op<Sticky>` or `Op<Lead>`, which
//! have neither method, so the mistake does not compile:
//!
//! ```compile_fail
//! use tokengate::Op;
//! let op = Op::new("x").sticky_anchor("a").external_calls(["child"]);
//! ```
//!
//! A storage op has no locality tag either: it runs on the storage threads, so an
//! anchor or a domain could not hold. `storage_speed` also lives on `Op<Free>` only
//! and returns `Op<Storage>`, so neither combination compiles, in either order:
//!
//! ```compile_fail
//! use tokengate::{Op, StorageSpeed};
//! let op = Op::new("x").storage_speed(StorageSpeed::Slow).sticky_anchor("a");
//! ```
//!
//! ```compile_fail
//! use tokengate::{Op, StorageSpeed};
//! let op = Op::new("x").external_calls(["child"]).storage_speed(StorageSpeed::Slow);
//! ```

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::registry::OpId;
use crate::storage::StorageSpeed;

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
/// Type-state marker: a storage op (it has a `storage_speed`).
#[derive(Debug, Clone, Copy)]
pub enum Storage {}

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
    /// The storage tier, for `Op<Storage>` only.
    storage: Option<StorageSpeed>,
}

/// A declared operation: a name, a [`Weight`] and at most one locality tag.
///
/// `K` is [`Free`] (the default), [`Sticky`], [`Lead`] or [`Storage`].
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
            .field("storage", &self.inner.storage)
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
        Op::rebuilt(&self, self.inner.weight, Tag::Sticky { anchor, hash })
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
        Op::rebuilt(&self, self.inner.weight, Tag::Lead { calls })
    }

    /// Makes this a storage op: each call is blocking I/O that runs on the storage
    /// lane, at most the tier's limit at once ([`StorageSpeed::default_limit`]), and
    /// never on a CPU worker. See the crate docs, "Storage lane".
    ///
    /// The op's [`Weight`] still applies to metrics and to what the task spawns
    /// through `join`, but not to admission: a tier admits its tasks strictly in
    /// spawn order, whatever their weights.
    ///
    /// ```
    /// use tokengate::{Coordinator, Op, StorageSpeed, Weight};
    /// let gate = Coordinator::builder().workers(1).build().unwrap();
    /// let path = std::env::temp_dir().join(format!("tokengate-doc-{}.json", std::process::id()));
    /// let write = Op::new("write_json").weight(Weight::Light).storage_speed(StorageSpeed::Moderate);
    /// assert_eq!(write.storage_speed_of(), StorageSpeed::Moderate);
    /// let p = path.clone();
    /// let t = gate.spawn(&write, move || std::fs::write(p, b"{}"));
    /// assert!(t.wait().unwrap().is_ok());
    /// std::fs::remove_file(path).unwrap();
    /// ```
    pub fn storage_speed(self, speed: StorageSpeed) -> Op<Storage> {
        let mut op = Op::rebuilt(&self, self.inner.weight, Tag::None);
        op.inner_mut().storage = Some(speed);
        op
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
                storage: None,
            }),
            _kind: PhantomData,
        }
    }

    /// A new op with `from`'s name, deadline and storage tier, and this weight and tag.
    fn rebuilt<J>(from: &Op<J>, weight: Weight, tag: Tag) -> Self {
        let mut op = Op::build(from.inner.name.clone(), weight, tag);
        let inner = op.inner_mut();
        (inner.deadline, inner.deadline_ns) = (from.inner.deadline, from.inner.deadline_ns);
        inner.storage = from.inner.storage;
        op
    }

    /// The inner data of an op that was just built, to finish it.
    fn inner_mut(&mut self) -> &mut OpInner {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner,
            None => crate::fatal("a freshly built op was shared"),
        }
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
        let mut op = Op::rebuilt(&self, self.inner.weight, self.inner.tag.clone());
        let inner = op.inner_mut();
        inner.deadline = Some(limit);
        inner.deadline_ns = u64::try_from(limit.as_nanos()).unwrap_or(u64::MAX).max(1);
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
        Op::rebuilt(&self, weight, self.inner.tag.clone())
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

    /// The storage tier if this is an `Op<Storage>`.
    pub(crate) fn storage(&self) -> Option<StorageSpeed> {
        self.inner.storage
    }
}

impl Op<Storage> {
    /// The op's storage tier.
    ///
    /// ```
    /// use tokengate::{Op, StorageSpeed, Weight};
    /// // `weight` keeps the tier, before or after `storage_speed`.
    /// let op = Op::new("append_log").storage_speed(StorageSpeed::Fast).weight(Weight::Heavy);
    /// assert_eq!((op.storage_speed_of(), op.weight_of()), (StorageSpeed::Fast, Weight::Heavy));
    /// ```
    pub fn storage_speed_of(&self) -> StorageSpeed {
        match self.inner.storage {
            Some(speed) => speed,
            None => crate::fatal("Op<Storage> without a storage speed"),
        }
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
