//! End-to-end tests (written below).
