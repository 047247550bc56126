//! Imports from and exports to Markdown folders: the node's side. The folder itself is read and
//! written by the caller (`tacit-vault`); the actor writes the notes it is given and hands out
//! whole documents a page at a time.

use tacit_core::DocId;

use super::{Actor, Outcome};
use crate::api::{ExportPage, ImportNote};
use crate::error::NodeError;

impl Actor {
    /// Writes imported notes: updates the ones imported before, creates the others.
    pub(super) fn import(
        &mut self,
        _space: Option<&str>,
        _notes: Vec<ImportNote>,
    ) -> Result<Outcome, NodeError> {
        Err(NodeError::Internal("import is not built yet".into()))
    }

    /// One page of a space's notes and questions, whole.
    pub(super) fn export(
        &mut self,
        _space: Option<&str>,
        _after: Option<DocId>,
        _limit: Option<u32>,
    ) -> Result<ExportPage, NodeError> {
        Err(NodeError::Internal("export is not built yet".into()))
    }
}
