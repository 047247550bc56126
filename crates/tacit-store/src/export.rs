//! What an export needs of the store: a space's live notes and questions in id order, a page
//! at a time, so that a long export resumes after the last id it wrote.

use tacit_core::{DocId, SpaceId};

use crate::error::{SqlContext, StoreError};
use crate::rows::{DOC_COLUMNS, Listed, RawListed};
use crate::store::Store;

impl Store {
    /// The notes and questions of `space` that are not deleted, with ids after `after`, in id
    /// order, at most `limit` of them.
    pub fn export_page(
        &self,
        space: SpaceId,
        after: Option<DocId>,
        limit: usize,
    ) -> Result<Vec<Listed>, StoreError> {
        let sql = format!(
            "SELECT {DOC_COLUMNS} FROM docs
             WHERE space = ?1 AND deleted = 0 AND kind IN ('note', 'question') AND id > ?2
             ORDER BY id LIMIT ?3"
        );
        // Ids are stored as lowercase hex, so text order is id order; '' is before every id.
        let after = after.map(|id| id.to_string()).unwrap_or_default();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let raw: Vec<RawListed> = self
            .conn
            .prepare_cached(&sql)
            .and_then(|mut st| {
                st.query_map(
                    rusqlite::params![space.to_string(), after, limit],
                    RawListed::from_row,
                )?
                .collect()
            })
            .at(&self.path)?;
        raw.into_iter().map(RawListed::into_listed).collect()
    }
}
