//! What the people pages, `who`, routing and the inbox are computed from, kept between
//! requests until a document or a profile it depends on changes.

use std::collections::HashMap;
use std::sync::Arc;

use tacit_core::people::{Contribution, ExpertIndex};
use tacit_core::{DocId, MemberId, SpaceId};

/// What the people pages are computed from, per space (`None`: every space), built when first
/// needed and dropped when a document of the space or a profile changes.
#[derive(Default)]
pub(crate) struct PeopleCache {
    pub(crate) contributions: HashMap<Option<SpaceId>, Arc<Vec<(SpaceId, Contribution)>>>,
    pub(crate) indexes: HashMap<Option<SpaceId>, Arc<ExpertIndex>>,
    /// Per space, each recent question's ranking of members (routing's costly part).
    pub(crate) ranked: HashMap<SpaceId, HashMap<DocId, Vec<MemberId>>>,
    /// Every known member's name as shown (look-alikes told apart) and organisation: dropped
    /// when a profile or a membership changes.
    pub(crate) names: Option<Arc<HashMap<MemberId, (String, String)>>>,
}

impl PeopleCache {
    /// A document of `space` changed (or a profile: `None` drops everything).
    pub(crate) fn invalidate(&mut self, space: Option<SpaceId>) {
        match space {
            Some(s) => {
                self.contributions.remove(&Some(s));
                self.contributions.remove(&None);
                self.indexes.remove(&Some(s));
                self.indexes.remove(&None);
                self.ranked.remove(&s);
            }
            None => {
                self.contributions.clear();
                self.indexes.clear();
                self.ranked.clear();
                self.names = None;
            }
        }
    }
}
