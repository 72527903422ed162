//! Loom models for tokengate live in `tests/`; run them with the command in README.md.
