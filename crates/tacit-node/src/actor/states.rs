//! The Automerge sync states of the exchanges in progress, per session and document, bounded
//! per session: a member can name every document of a space, each with a state kept
//! ([`tacit_core::keep_sync_state`] bounds each to about 10 KiB). Past
//! [`MAX_STATES_PER_SESSION`] the session's least recently used state is let go; that
//! document's exchange then starts afresh, as after a reconnect (one more round trip).

use std::collections::HashMap;
use std::num::NonZeroUsize;

use automerge::sync::State;
use lru::LruCache;
use tacit_core::DocId;

use crate::replica::SessionId;

/// Exchanges kept in progress for one session: far more documents than change at once between
/// two members, and at most about 40 MiB of states for a session that names every document.
pub(crate) const MAX_STATES_PER_SESSION: NonZeroUsize = NonZeroUsize::new(4096).expect("non-zero");

/// See the module doc.
#[derive(Default)]
pub(crate) struct SyncStates {
    sessions: HashMap<SessionId, LruCache<DocId, State>>,
}

impl SyncStates {
    /// Takes the state of `session`'s exchange of `id`, if one is kept.
    pub(crate) fn take(&mut self, session: SessionId, id: DocId) -> Option<State> {
        self.sessions.get_mut(&session)?.pop(&id)
    }

    /// Keeps the state of `session`'s exchange of `id`.
    pub(crate) fn keep(&mut self, session: SessionId, id: DocId, state: State) {
        // Unbounded, with the bound kept here: a bounded cache allocates room for all of it up
        // front, and most sessions keep a few states.
        let states = self
            .sessions
            .entry(session)
            .or_insert_with(LruCache::unbounded);
        states.put(id, state);
        while states.len() > MAX_STATES_PER_SESSION.get() {
            states.pop_lru();
        }
    }

    /// Forgets every state of `session` (it ended).
    pub(crate) fn end(&mut self, session: SessionId) {
        self.sessions.remove(&session);
    }

    /// States kept for `session`.
    #[cfg(test)]
    pub(crate) fn len(&self, session: SessionId) -> usize {
        self.sessions.get(&session).map_or(0, LruCache::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session that names more documents than the bound keeps the most recent ones; another
    /// session's states are its own.
    #[test]
    fn a_session_keeps_at_most_its_bound_of_states() {
        let mut states = SyncStates::default();
        let honest = DocId::random();
        states.keep(2, honest, State::new());
        let ids: Vec<DocId> = (0..MAX_STATES_PER_SESSION.get() + 100)
            .map(|_| DocId::random())
            .collect();
        for id in &ids {
            states.keep(1, *id, State::new());
        }
        assert_eq!(states.len(1), MAX_STATES_PER_SESSION.get());
        assert!(states.take(1, ids[0]).is_none(), "the oldest is let go");
        assert!(states.take(1, ids[ids.len() - 1]).is_some());
        assert!(
            states.take(2, honest).is_some(),
            "another session keeps its own"
        );
        states.end(1);
        assert_eq!(states.len(1), 0);
    }
}
