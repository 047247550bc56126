//! The index on disk: opening (and rebuilding), writing, and searching.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tacit_core::{DocId, Kind, MemberId, SpaceId};
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{
    AllQuery, AutomatonWeight, BooleanQuery, BoostQuery, DfaWrapper, DisjunctionMaxQuery,
    EnableScoring, FuzzyTermQuery, Occur, PhraseQuery, Query, TermQuery, Weight,
};
use tantivy::schema::{IndexRecordOption, Schema, Value};
use tantivy::{
    DocAddress, Index, IndexReader, IndexWriter, Order, ReloadPolicy, TantivyDocument, Term,
};
use tracing::{info, warn};

use crate::entry::Entry;
use crate::error::SearchError;
use crate::query::{Parsed, Scope};
use crate::schema::{self, Fields, VERSION};
use crate::snippet::{self, Marked, Matcher, typo_distance};

/// Hits from which snippets are made on two threads.
const PARALLEL_HITS: usize = 8;

/// Memory the writer may buffer before it flushes a segment (tantivy's minimum is 15 MB, which
/// measured worse on a rebuild of 10,000 notes: 13 s instead of 10 s to searchable, and the app
/// holding 100 MB more afterwards, from the extra segments and their merges).
const WRITER_MEMORY: usize = 32 << 20;

/// How an index was opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// An index of this version was there.
    Existing,
    /// A new, empty index was made; the reason says why (none for a first start). Everything
    /// must be indexed from the store.
    Created {
        /// Why the old one was set aside, if there was one.
        reason: Option<String>,
    },
}

/// The index, opened: cheap to clone, searchable from any thread.
#[derive(Clone)]
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    dir: PathBuf,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex")
            .field("dir", &self.dir)
            .finish()
    }
}

/// One search's result.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hits {
    /// The best hits, best first.
    pub hits: Vec<Hit>,
    /// How many documents matched in all.
    pub total: u32,
}

/// A document that matched.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The document.
    pub id: DocId,
    /// Note or question.
    pub kind: Kind,
    /// Its space.
    pub space: SpaceId,
    /// Its author.
    pub author: MemberId,
    /// Its title, marked.
    pub title: Marked,
    /// The best passage of its body or answers, marked.
    pub snippet: Marked,
    /// Its tags.
    pub tags: Vec<String>,
    /// Last change, ms.
    pub updated_at: i64,
    /// Relevance, higher is better.
    pub score: f32,
}

/// A document found by a link lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The document.
    pub id: DocId,
    /// Note or question.
    pub kind: Kind,
    /// Its title.
    pub title: String,
    /// Its space.
    pub space: SpaceId,
    /// Last change, ms.
    pub updated_at: i64,
    /// The targets of its links, as written.
    pub links: Vec<String>,
}

impl SearchIndex {
    /// Opens the index in `dir`, or makes a new one there when there is none, or when the one
    /// there cannot be opened, is damaged or is of another version (it is deleted: the store
    /// holds everything it held).
    pub fn open(dir: &Path) -> Result<(SearchIndex, Opened), SearchError> {
        match Self::open_existing(dir) {
            Ok(ix) => {
                // Read every segment's fast fields once: a damaged segment shows here, not
                // mid-search.
                match ix.held() {
                    Ok(_) => Ok((ix, Opened::Existing)),
                    Err(e) => {
                        let reason = format!("it is damaged ({e})");
                        drop(ix);
                        let ix = Self::create(dir, Some(&reason))?;
                        Ok((
                            ix,
                            Opened::Created {
                                reason: Some(reason),
                            },
                        ))
                    }
                }
            }
            Err(reason) => {
                let ix = Self::create(dir, reason.as_deref())?;
                Ok((ix, Opened::Created { reason }))
            }
        }
    }

    /// Opens the index in `dir` as it is, quickly: its metadata, schema and version are
    /// checked, its segments are not read (a damaged one shows at the first read, e.g. by
    /// [`SearchIndex::held`]). `Err` says why it must be made anew ([`SearchIndex::create`]):
    /// `None` when there is none, else what is wrong with it.
    pub fn open_existing(dir: &Path) -> Result<SearchIndex, Option<String>> {
        if !dir.join("meta.json").exists() {
            return Err(None);
        }
        let (schema, fields) = schema::build();
        Self::try_open(dir, &schema, fields).map_err(Some)
    }

    /// Makes a new, empty index in `dir`, deleting whatever was there (the index's own files:
    /// the store holds everything they held). `reason`, logged, says why an old one is set
    /// aside.
    pub fn create(dir: &Path, reason: Option<&str>) -> Result<SearchIndex, SearchError> {
        if let Some(reason) = reason {
            warn!(dir = %dir.display(), "the search index is set aside and rebuilt: {reason}");
        }
        let (schema, fields) = schema::build();
        clear(dir)?;
        Self::create_in(dir, schema, fields)
    }

    fn try_open(dir: &Path, schema: &Schema, fields: Fields) -> Result<SearchIndex, String> {
        let index = Index::open_in_dir(dir).map_err(|e| format!("it does not open ({e})"))?;
        if index.schema() != *schema {
            return Err("it was made by another version of Tacit".into());
        }
        let payload = index
            .load_metas()
            .map_err(|e| format!("its metadata does not read ({e})"))?
            .payload;
        if payload.as_deref() != Some(VERSION) {
            return Err(format!(
                "it is of version {} (this one is {VERSION})",
                payload.as_deref().unwrap_or("unknown")
            ));
        }
        Self::with_index(index, fields, dir).map_err(|e| e.to_string())
    }

    fn create_in(dir: &Path, schema: Schema, fields: Fields) -> Result<SearchIndex, SearchError> {
        let index = Index::create_in_dir(dir, schema).map_err(tantivy_err(dir))?;
        let ix = Self::with_index(index, fields, dir)?;
        // An empty first commit carries the version, so that an index killed before its
        // first real commit is still recognised.
        let mut w = ix.writer()?;
        w.commit()?;
        info!(dir = %dir.display(), "made a new search index");
        Ok(ix)
    }

    fn with_index(index: Index, fields: Fields, dir: &Path) -> Result<SearchIndex, SearchError> {
        index
            .tokenizers()
            .register(schema::ANALYZER, schema::analyzer());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(tantivy_err(dir))?;
        Ok(SearchIndex {
            index,
            reader,
            fields,
            dir: dir.to_path_buf(),
        })
    }

    /// The writer. Only one may exist at a time (tantivy holds a lock in the directory), and it
    /// holds threads and, while it indexes, a memory arena (32 MB at most): make
    /// one when there is something to write and [`Writer::finish`] it when done.
    pub fn writer(&self) -> Result<Writer, SearchError> {
        let writer = self
            .index
            .writer_with_num_threads(1, WRITER_MEMORY)
            .map_err(tantivy_err(&self.dir))?;
        Ok(Writer {
            writer,
            ix: self.clone(),
            merges_held: false,
        })
    }

    /// Documents in the index (as of the last commit).
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Segments in the index (as of the last commit, or the last open): each commit adds one,
    /// and tantivy merges them in the background unless merges are held
    /// ([`Writer::hold_merges`]).
    pub fn segment_count(&self) -> usize {
        self.reader.searcher().segment_readers().len()
    }

    /// Whether the index holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every indexed document with the short hash of the heads it was indexed at.
    pub fn held(&self) -> Result<HashMap<DocId, u64>, SearchError> {
        let searcher = self.reader.searcher();
        let mut out = HashMap::new();
        for seg in searcher.segment_readers() {
            let ff = seg.fast_fields();
            let err = tantivy_err(&self.dir);
            let hi = ff.u64("id_hi").map_err(&err)?;
            let lo = ff.u64("id_lo").map_err(&err)?;
            let heads = ff.u64("heads").map_err(&err)?;
            for doc in seg.doc_ids_alive() {
                let (Some(hi), Some(lo)) = (hi.first(doc), lo.first(doc)) else {
                    continue;
                };
                let mut bytes = [0u8; 16];
                bytes[..8].copy_from_slice(&hi.to_be_bytes());
                bytes[8..].copy_from_slice(&lo.to_be_bytes());
                out.insert(DocId::from_bytes(bytes), heads.first(doc).unwrap_or(0));
            }
        }
        Ok(out)
    }

    /// The best `limit` documents for a query within a scope, with how many matched in all.
    pub fn search(&self, q: &Parsed, scope: &Scope, limit: usize) -> Result<Hits, SearchError> {
        if q.is_empty() && scope.spaces.is_none() && scope.authors.is_none() {
            return Ok(Hits::default());
        }
        let searcher = self.reader.searcher();
        let err = tantivy_err(&self.dir);
        let limit = limit.max(1);
        let ranked = |typos: bool| {
            searcher
                .search(
                    &self.query(q, scope, typos),
                    &(TopDocs::with_limit(limit).order_by_score(), Count),
                )
                .map_err(&err)
        };
        // Misspelt words are looked for only when the words as typed fill fewer than `limit`
        // hits: near misses would rank below them anyway, and finding them costs a walk of
        // each field's dictionary.
        let mut typos = false;
        let (top, total): (Vec<(f32, DocAddress)>, usize) = if q.has_text() {
            let exact = ranked(false)?;
            let may_differ = q.words.iter().any(|w| typo_distance(w) > 0);
            if exact.1 >= limit || !may_differ {
                exact
            } else {
                typos = true;
                ranked(true)?
            }
        } else {
            let query = self.query(q, scope, false);
            // Only filters: every match scores the same, so the newest come first.
            let (top, total) = searcher
                .search(
                    &query,
                    &(
                        TopDocs::with_limit(limit)
                            .order_by_fast_field::<i64>("updated", Order::Desc),
                        Count,
                    ),
                )
                .map_err(&err)?;
            (top.into_iter().map(|(_, a)| (0.0, a)).collect(), total)
        };
        // Reading the hits and making their snippets costs as much as the search: above a
        // few hits the two halves are made on two threads.
        let hits = if top.len() >= PARALLEL_HITS {
            let (a, b) = top.split_at(top.len() / 2);
            let (a, b) = std::thread::scope(|s| {
                let other = s.spawn(|| self.hits(&searcher, q, typos, b));
                (self.hits(&searcher, q, typos, a), other.join())
            });
            let mut hits = a?;
            hits.extend(b.map_err(|_| SearchError::Panicked)??);
            hits
        } else {
            self.hits(&searcher, q, typos, &top)?
        };
        Ok(Hits {
            hits,
            total: u32::try_from(total).unwrap_or(u32::MAX),
        })
    }

    /// The hits at these addresses, read and given their snippets.
    fn hits(
        &self,
        searcher: &tantivy::Searcher,
        q: &Parsed,
        typos: bool,
        top: &[(f32, DocAddress)],
    ) -> Result<Vec<Hit>, SearchError> {
        let matcher = Matcher::new(q, typos);
        let mut hits = Vec::with_capacity(top.len());
        for &(score, addr) in top {
            let doc: TantivyDocument = searcher.doc(addr).map_err(tantivy_err(&self.dir))?;
            let Some(stored) = self.stored(&doc) else {
                continue;
            };
            let texts = std::iter::once(stored.body.as_str())
                .chain(stored.answers.iter().map(String::as_str));
            let (snippet, _) = snippet::snippet(texts, &matcher);
            hits.push(Hit {
                id: stored.id,
                kind: stored.kind,
                space: stored.space,
                author: stored.author,
                title: snippet::mark(&stored.title, &matcher),
                snippet,
                tags: stored.tags,
                updated_at: stored.updated,
                score,
            });
        }
        Ok(hits)
    }

    /// The documents of `space` whose title or an alias has one of these link keys.
    pub fn named(&self, space: SpaceId, keys: &[String]) -> Result<Vec<Found>, SearchError> {
        self.find(space, self.fields.name_key, keys)
    }

    /// The documents of `space` linking to one of these link keys, newest change first.
    pub fn linking_to(&self, space: SpaceId, keys: &[String]) -> Result<Vec<Found>, SearchError> {
        self.find(space, self.fields.link, keys)
    }

    /// One indexed document, by id.
    pub fn get(&self, id: DocId) -> Result<Option<Found>, SearchError> {
        let searcher = self.reader.searcher();
        let term = Term::from_field_text(self.fields.id, &id.to_string());
        let q = TermQuery::new(term, IndexRecordOption::Basic);
        let top = searcher
            .search(&q, &TopDocs::with_limit(1).order_by_score())
            .map_err(tantivy_err(&self.dir))?;
        match top.first() {
            Some((_, addr)) => {
                let doc: TantivyDocument = searcher.doc(*addr).map_err(tantivy_err(&self.dir))?;
                Ok(self.stored(&doc).map(Stored::found))
            }
            None => Ok(None),
        }
    }

    fn find(
        &self,
        space: SpaceId,
        field: tantivy::schema::Field,
        keys: &[String],
    ) -> Result<Vec<Found>, SearchError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let any: Vec<(Occur, Box<dyn Query>)> = keys
            .iter()
            .map(|k| (Occur::Should, term_query(field, k)))
            .collect();
        let q = BooleanQuery::new(vec![
            (
                Occur::Must,
                Box::new(BooleanQuery::new(any)) as Box<dyn Query>,
            ),
            (
                Occur::Must,
                term_query(self.fields.space, &space.to_string()),
            ),
        ]);
        let searcher = self.reader.searcher();
        let err = tantivy_err(&self.dir);
        let top = searcher
            .search(
                &q,
                &TopDocs::with_limit(500).order_by_fast_field::<i64>("updated", Order::Desc),
            )
            .map_err(&err)?;
        let mut out = Vec::with_capacity(top.len());
        for (_, addr) in top {
            let doc: TantivyDocument = searcher.doc(addr).map_err(&err)?;
            if let Some(s) = self.stored(&doc) {
                out.push(s.found());
            }
        }
        Ok(out)
    }

    /// The query of a parsed search within a scope.
    fn query(&self, q: &Parsed, scope: &Scope, typos: bool) -> Box<dyn Query> {
        let f = &self.fields;
        let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        // Where a word counts, and how much: title, alias and tag matches rank first.
        let weighted = [
            (f.title, 6.0),
            (f.aliases, 5.0),
            (f.tags_text, 5.0),
            (f.body, 1.0),
            (f.answers, 0.8),
        ];
        let last = q.words.len().saturating_sub(1);
        for (i, word) in q.words.iter().enumerate() {
            let prefix = q.prefix && i == last;
            let distance = if typos { typo_distance(word) } else { 0 };
            // Each automaton is built once and shared by every field.
            let any_field = Term::from_field_text(f.body, word);
            let near = (distance > 0)
                .then(|| {
                    FuzzyTermQuery::new(any_field.clone(), distance, true)
                        .automaton()
                        .ok()
                })
                .flatten()
                .map(Arc::new);
            let starts = prefix
                .then(|| {
                    FuzzyTermQuery::new_prefix(any_field, 0, true)
                        .automaton()
                        .ok()
                })
                .flatten()
                .map(Arc::new);
            let mut any: Vec<Box<dyn Query>> = Vec::new();
            for &(field, weight) in &weighted {
                let term = Term::from_field_text(field, word);
                any.push(boost(
                    Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs)),
                    weight,
                ));
                // Near misses and unfinished words score a constant below most exact matches.
                if let Some(dfa) = &near {
                    any.push(boost(Box::new(Automaton::new(field, dfa)), weight * 0.3));
                }
                if let Some(dfa) = &starts {
                    any.push(boost(Box::new(Automaton::new(field, dfa)), weight * 0.5));
                }
            }
            must.push((
                Occur::Must,
                Box::new(DisjunctionMaxQuery::with_tie_breaker(any, 0.2)),
            ));
        }
        // A title (or alias) that is the whole query, or starts with it while typing, or is it
        // give or take a typo, comes first.
        if !q.words.is_empty() && q.phrases.is_empty() {
            let whole = q.words.join(" ");
            let term = Term::from_field_text(f.name_key, &whole);
            must.push((
                Occur::Should,
                boost(
                    Box::new(TermQuery::new(term.clone(), IndexRecordOption::Basic)),
                    8.0,
                ),
            ));
            if q.prefix {
                let starts = Box::new(FuzzyTermQuery::new_prefix(term.clone(), 0, true));
                must.push((Occur::Should, boost(starts, 3.0)));
            }
            // One word only: a typo in a longer title costs a large automaton for little.
            let distance = if typos && q.words.len() == 1 {
                typo_distance(&whole)
            } else {
                0
            };
            if distance > 0 {
                let near = Box::new(FuzzyTermQuery::new(term, distance, true));
                must.push((Occur::Should, boost(near, 3.0)));
            }
        }
        for phrase in &q.phrases {
            let any: Vec<Box<dyn Query>> = [
                (f.title, 6.0),
                (f.aliases, 5.0),
                (f.body, 1.0),
                (f.answers, 0.8),
            ]
            .into_iter()
            .map(|(field, weight)| {
                let terms = phrase
                    .iter()
                    .map(|w| Term::from_field_text(field, w))
                    .collect();
                boost(Box::new(PhraseQuery::new(terms)), weight)
            })
            .collect();
            must.push((Occur::Must, Box::new(DisjunctionMaxQuery::new(any))));
        }
        for tag in &q.tags {
            must.push((Occur::Must, term_query(f.tag, tag)));
        }
        if !q.kinds.is_empty() {
            must.push((
                Occur::Must,
                any_of(f.kind, q.kinds.iter().map(|k| k.as_str().to_owned())),
            ));
        }
        if let Some(spaces) = &scope.spaces {
            must.push((
                Occur::Must,
                any_of(f.space, spaces.iter().map(ToString::to_string)),
            ));
        }
        if let Some(authors) = &scope.authors {
            must.push((
                Occur::Must,
                any_of(f.author, authors.iter().map(ToString::to_string)),
            ));
        }
        for word in &q.excluded {
            for field in [f.title, f.aliases, f.tags_text, f.body, f.answers] {
                must.push((Occur::MustNot, term_query(field, word)));
            }
        }
        if !must.iter().any(|(o, _)| *o == Occur::Must) {
            must.push((Occur::Must, Box::new(AllQuery)));
        }
        Box::new(BooleanQuery::new(must))
    }

    fn stored(&self, doc: &TantivyDocument) -> Option<Stored> {
        let f = &self.fields;
        let text = |field| {
            doc.get_first(field)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned()
        };
        let all = |field| -> Vec<String> {
            doc.get_all(field)
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        };
        Some(Stored {
            id: text(f.id).parse().ok()?,
            kind: Kind::parse(&text(f.kind))?,
            space: text(f.space).parse().ok()?,
            author: text(f.author).parse().ok()?,
            title: text(f.title),
            body: text(f.body),
            answers: all(f.answers),
            tags: all(f.tag),
            links: all(f.link),
            updated: doc
                .get_first(f.updated)
                .and_then(|v| v.as_i64())
                .unwrap_or(0),
        })
    }
}

/// What a stored document holds.
struct Stored {
    id: DocId,
    kind: Kind,
    space: SpaceId,
    author: MemberId,
    title: String,
    body: String,
    answers: Vec<String>,
    tags: Vec<String>,
    links: Vec<String>,
    updated: i64,
}

impl Stored {
    fn found(self) -> Found {
        Found {
            id: self.id,
            kind: self.kind,
            title: self.title,
            space: self.space,
            updated_at: self.updated,
            links: self.links,
        }
    }
}

/// Terms of a field accepted by a Levenshtein automaton built once for several fields (a
/// `FuzzyTermQuery` builds its own for each).
#[derive(Clone)]
struct Automaton {
    field: tantivy::schema::Field,
    dfa: Arc<DfaWrapper>,
}

impl Automaton {
    fn new(field: tantivy::schema::Field, dfa: &Arc<DfaWrapper>) -> Self {
        Self {
            field,
            dfa: dfa.clone(),
        }
    }
}

impl std::fmt::Debug for Automaton {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Automaton")
            .field("field", &self.field)
            .finish()
    }
}

impl Query for Automaton {
    fn weight(&self, _: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(AutomatonWeight::<DfaWrapper>::new(
            self.field,
            self.dfa.clone(),
        )))
    }
}

fn boost(q: Box<dyn Query>, by: f32) -> Box<dyn Query> {
    Box::new(BoostQuery::new(q, by))
}

fn term_query(field: tantivy::schema::Field, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, value),
        IndexRecordOption::Basic,
    ))
}

fn any_of(field: tantivy::schema::Field, values: impl Iterator<Item = String>) -> Box<dyn Query> {
    let any: Vec<(Occur, Box<dyn Query>)> = values
        .map(|v| (Occur::Should, term_query(field, &v)))
        .collect();
    if any.is_empty() {
        // An empty scope: nothing may match.
        return Box::new(BooleanQuery::new(vec![(
            Occur::MustNot,
            Box::new(AllQuery) as Box<dyn Query>,
        )]));
    }
    Box::new(BooleanQuery::new(any))
}

/// The index's writer: changes become searchable at [`Writer::commit`].
pub struct Writer {
    writer: IndexWriter,
    ix: SearchIndex,
    /// Whether segment merges are held back (see [`Writer::hold_merges`]).
    merges_held: bool,
}

impl Writer {
    /// Adds a document, or replaces the one with its id.
    pub fn put(&mut self, e: &Entry) -> Result<(), SearchError> {
        let f = &self.ix.fields;
        let id = e.id.to_string();
        self.writer.delete_term(Term::from_field_text(f.id, &id));
        let bytes = e.id.as_bytes();
        let mut hi = [0u8; 8];
        let mut lo = [0u8; 8];
        hi.copy_from_slice(&bytes[..8]);
        lo.copy_from_slice(&bytes[8..]);
        let mut doc = TantivyDocument::default();
        doc.add_text(f.id, &id);
        doc.add_u64(f.id_hi, u64::from_be_bytes(hi));
        doc.add_u64(f.id_lo, u64::from_be_bytes(lo));
        doc.add_u64(f.heads, e.heads);
        doc.add_text(f.space, e.space.to_string());
        doc.add_text(f.kind, e.kind.as_str());
        doc.add_text(f.author, e.author.to_string());
        doc.add_text(f.title, &e.title);
        doc.add_text(f.name_key, tacit_core::markdown::link_key(&e.title));
        for a in &e.aliases {
            doc.add_text(f.aliases, a);
            doc.add_text(f.name_key, tacit_core::markdown::link_key(a));
        }
        for t in &e.tags {
            doc.add_text(f.tag, t);
            doc.add_text(f.tags_text, t);
        }
        doc.add_text(f.body, &e.body);
        for a in &e.answers {
            doc.add_text(f.answers, a);
        }
        for l in &e.links {
            doc.add_text(f.link, tacit_core::markdown::link_key(l));
        }
        doc.add_i64(f.created, e.created_at);
        doc.add_i64(f.updated, e.updated_at);
        self.writer
            .add_document(doc)
            .map_err(tantivy_err(&self.ix.dir))?;
        Ok(())
    }

    /// Removes a document (deleted, or gone from the store).
    pub fn remove(&mut self, id: DocId) {
        self.writer
            .delete_term(Term::from_field_text(self.ix.fields.id, &id.to_string()));
    }

    /// Removes every document of a space (the home left it).
    pub fn remove_space(&mut self, space: SpaceId) {
        self.writer.delete_term(Term::from_field_text(
            self.ix.fields.space,
            &space.to_string(),
        ));
    }

    /// Makes every change so far durable and searchable.
    pub fn commit(&mut self) -> Result<(), SearchError> {
        let err = tantivy_err(&self.ix.dir);
        let mut prepared = self.writer.prepare_commit().map_err(&err)?;
        prepared.set_payload(VERSION);
        prepared.commit().map_err(&err)?;
        self.ix.reader.reload().map_err(&err)?;
        Ok(())
    }

    /// Holds segment merges back (while a bulk stream of documents goes on, so that the cores
    /// load and index instead of merging segments the next commits would merge again), or lets
    /// them go: the next commit (one with no changes will do) then merges what accumulated, as
    /// tantivy's default policy says. Whether this changed anything.
    pub fn hold_merges(&mut self, hold: bool) -> bool {
        if hold == self.merges_held {
            return false;
        }
        if hold {
            self.writer
                .set_merge_policy(Box::new(tantivy::indexer::NoMergePolicy));
        } else {
            self.writer
                .set_merge_policy(Box::new(tantivy::indexer::LogMergePolicy::default()));
        }
        self.merges_held = hold;
        true
    }

    /// The index this writer writes.
    pub fn index(&self) -> &SearchIndex {
        &self.ix
    }

    /// Lets the writer go: waits for the segment merges it started, then ends its threads and
    /// frees its lock. What was not committed is dropped.
    pub fn finish(self) -> Result<(), SearchError> {
        let dir = self.ix.dir.clone();
        self.writer
            .wait_merging_threads()
            .map_err(|source| SearchError::Index { path: dir, source })
    }
}

fn tantivy_err(dir: &Path) -> impl Fn(tantivy::TantivyError) -> SearchError + '_ {
    move |source| SearchError::Index {
        path: dir.to_path_buf(),
        source,
    }
}

/// Empties the index directory (making it if missing). Only the index's own files are in it.
fn clear(dir: &Path) -> Result<(), SearchError> {
    let io = |source| SearchError::Io {
        path: dir.to_path_buf(),
        source,
    };
    // What the directory holds, not the directory: it may be a mount point (removing it fails)
    // or a link to another disk (removing it would drop the link, not what it points to).
    std::fs::create_dir_all(dir).map_err(io)?;
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        let removed = match entry.file_type() {
            Ok(t) if t.is_dir() => std::fs::remove_dir_all(&path),
            _ => std::fs::remove_file(&path),
        };
        match removed {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(SearchError::Io { path, source }),
        }
    }
    Ok(())
}
