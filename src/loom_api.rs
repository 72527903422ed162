//! Internals exposed to the loom models in `loom-tests/`. Compiled only under
//! `--cfg tokengate_loom`; never part of the normal public API.
