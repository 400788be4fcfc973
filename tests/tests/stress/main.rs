//! The stress suite of issue #9: load and churn on every flavor and I/O backend, bounded in
//! count and time. `cargo xtask ci` runs each scenario at a small size; `cargo xtask stress
//! [rounds]` runs them in release at the figures (10,000 echo connections x 100
//! messages, 1,000,000 timers, 1,000,000 tasks, 10,000,000 pipeline items), `rounds` times
//! each (see [`support`]). Every loop ends by itself; all traffic stays on loopback.
//! Figures and durations measured here are in docs/RELIABILITY.md.

mod echo;
mod pipeline;
mod support;
mod tasks;
mod timers;
