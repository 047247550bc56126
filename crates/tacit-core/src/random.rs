//! Where every random byte of the model comes from (ids, device keys, op nonces, invitation
//! secrets): the operating system's generator, or, on a thread the deterministic simulation
//! seeded, a generator derived from its seed, so that a run replays exactly.

use std::cell::RefCell;

use sha2::Digest as _;

/// A seeded stream: SHA-256 of the seed and a counter, block after block.
struct Seeded {
    seed: u64,
    counter: u64,
}

thread_local! {
    static SEEDED: RefCell<Option<Seeded>> = const { RefCell::new(None) };
}

/// Fills `bytes` with random bytes.
///
/// # Panics
///
/// When the operating system's generator fails: nothing could be written safely then.
pub fn fill(bytes: &mut [u8]) {
    let seeded = SEEDED.with(|s| {
        let mut s = s.borrow_mut();
        let Some(s) = s.as_mut() else {
            return false;
        };
        for chunk in bytes.chunks_mut(32) {
            let mut h = sha2::Sha256::new();
            h.update(s.seed.to_le_bytes());
            h.update(s.counter.to_le_bytes());
            s.counter += 1;
            chunk.copy_from_slice(&h.finalize()[..chunk.len()]);
        }
        true
    });
    if !seeded {
        getrandom::fill(bytes).expect("the operating system's random generator failed");
    }
}

/// Makes this thread's random bytes follow `seed` (`None`: the operating system's again). For
/// the deterministic simulation only: nothing else may call it.
#[doc(hidden)]
pub fn seed_this_thread(seed: Option<u64>) {
    SEEDED.with(|s| *s.borrow_mut() = seed.map(|seed| Seeded { seed, counter: 0 }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seeded_thread_replays_and_an_unseeded_one_does_not() {
        let draw = || {
            let mut b = [0u8; 40];
            fill(&mut b);
            b
        };
        seed_this_thread(Some(7));
        let first = (draw(), draw());
        seed_this_thread(Some(7));
        assert_eq!((draw(), draw()), first);
        seed_this_thread(None);
        assert_ne!(draw(), draw());
    }
}
