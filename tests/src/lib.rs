//! Shared helpers for the workspace-level integration and snapshot tests in `tests/tests/`.
