//! xorshift64*: a seeded stream of `u64`s for the fuzz tests, the same cases on every run and
//! target.
#![allow(clippy::unwrap_used)] // a failed unwrap is the test failing

/// The stream that starts from `state`.
pub fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
    move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}
