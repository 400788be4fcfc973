//! Shared helpers for trioxide's end-to-end tests (the tests themselves live in `tests/`).
