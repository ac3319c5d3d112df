//! `ioman-net`: listener and connection helpers (in progress).
#![forbid(unsafe_code)]
#![deny(missing_docs)]
