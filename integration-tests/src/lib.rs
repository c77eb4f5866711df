//! Black-box tests of the `vigil` binary live in `tests/`.
