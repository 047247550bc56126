//! The index's schema, its text analyser and its version.

use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer,
};

/// Written into every commit; an index with another payload was made by another version of
/// Tacit and is rebuilt.
pub(crate) const VERSION: &str = "tacit-index-1";

/// The analyser of every text field: words of letters and digits, lowercased, accents folded
/// (`Café` finds `cafe`), words over 40 bytes dropped.
pub(crate) const ANALYZER: &str = "tacit";

pub(crate) fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// The fields, looked up once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    /// The document id as hex: deletes and lookups go by it.
    pub id: Field,
    /// The id's two halves, as fast fields: [`crate::SearchIndex::held`] reads them without
    /// touching the stored documents.
    pub id_hi: Field,
    pub id_lo: Field,
    /// The short hash of the heads the document was indexed at.
    pub heads: Field,
    pub space: Field,
    pub kind: Field,
    pub author: Field,
    pub title: Field,
    pub aliases: Field,
    /// Tags as words, for ranking; `tag` holds them whole, for `tag:` filters.
    pub tags_text: Field,
    pub tag: Field,
    pub body: Field,
    pub answers: Field,
    /// The link key of each `[[wiki link]]` in the body (backlinks go by it).
    pub link: Field,
    /// The link keys of the title and the aliases (links resolve by them).
    pub name_key: Field,
    pub created: Field,
    pub updated: Field,
}

pub(crate) fn build() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = TextOptions::default().set_stored().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let unstored_text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let fields = Fields {
        id: b.add_text_field("id", STRING | STORED),
        id_hi: b.add_u64_field("id_hi", FAST),
        id_lo: b.add_u64_field("id_lo", FAST),
        heads: b.add_u64_field("heads", FAST),
        space: b.add_text_field("space", STRING | STORED),
        kind: b.add_text_field("kind", STRING | STORED),
        author: b.add_text_field("author", STRING | STORED),
        title: b.add_text_field("title", text.clone()),
        aliases: b.add_text_field("aliases", text.clone()),
        tags_text: b.add_text_field("tags_text", unstored_text),
        tag: b.add_text_field("tag", STRING | STORED),
        body: b.add_text_field("body", text.clone()),
        answers: b.add_text_field("answers", text),
        link: b.add_text_field("link", STRING | STORED),
        name_key: b.add_text_field("name_key", STRING),
        created: b.add_i64_field("created", INDEXED | STORED),
        updated: b.add_i64_field("updated", FAST | STORED),
    };
    (b.build(), fields)
}
