//! The index on a real directory: what each kind of query finds, how hits rank, and what
//! happens to a missing, damaged or outdated index.

#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed test

use tacit_core::{DocId, Kind, MemberId, SpaceId};
use tacit_search::{Entry, Opened, Scope, SearchIndex, parse};

fn member(n: u8) -> MemberId {
    let mut b = [0u8; 32];
    b[0] = n;
    MemberId::from_bytes(b)
}

fn entry(space: SpaceId, title: &str, body: &str, tags: &[&str]) -> Entry {
    Entry {
        id: DocId::random(),
        space,
        kind: Kind::Note,
        author: member(1),
        title: title.into(),
        body: body.into(),
        answers: vec![],
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        aliases: vec![],
        links: vec![],
        created_at: 1,
        updated_at: 1,
        heads: 7,
        attachments: vec![],
    }
}

fn titles(ix: &SearchIndex, q: &str) -> Vec<String> {
    titles_in(ix, q, &Scope::default())
}

fn titles_in(ix: &SearchIndex, q: &str, scope: &Scope) -> Vec<String> {
    ix.search(&parse(q), scope, 20)
        .unwrap()
        .hits
        .into_iter()
        .map(|h| h.title.text)
        .collect()
}

struct Fixture {
    _dir: tempfile::TempDir,
    ix: SearchIndex,
    a: SpaceId,
    b: SpaceId,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let (ix, opened) = SearchIndex::open(&dir.path().join("index")).unwrap();
    assert_eq!(opened, Opened::Created { reason: None });
    let (a, b) = (SpaceId::random(), SpaceId::random());
    let mut w = ix.writer().unwrap();
    w.put(&entry(
        a,
        "Deploying to Kubernetes",
        "We roll out with helm charts and watch the rollout.",
        &["ops"],
    ))
    .unwrap();
    w.put(&entry(
        a,
        "Lunch spots",
        "The ramen place near the station; kubernetes meetup on Fridays.",
        &["food"],
    ))
    .unwrap();
    w.put(&entry(
        a,
        "Release checklist",
        "Tag the release, then the blue green switch, then announce.",
        &["ops", "release"],
    ))
    .unwrap();
    let mut q = entry(
        b,
        "How do we rotate certificates?",
        "The cluster certificates expire yearly.",
        &[],
    );
    q.kind = Kind::Question;
    q.author = member(2);
    q.answers = vec!["Run the renewal job; it restarts the ingress.".into()];
    w.put(&q).unwrap();
    w.commit().unwrap();
    Fixture {
        _dir: dir,
        ix,
        a,
        b,
    }
}

#[test]
fn words_phrases_prefixes_and_typos() {
    let f = fixture();
    assert_eq!(titles(&f.ix, "helm"), vec!["Deploying to Kubernetes"]);
    // Title matches rank before body matches.
    assert_eq!(
        titles(&f.ix, "kubernetes "),
        vec!["Deploying to Kubernetes", "Lunch spots"]
    );
    // Every word must match somewhere.
    assert_eq!(titles(&f.ix, "kubernetes ramen "), vec!["Lunch spots"]);
    assert_eq!(titles(&f.ix, "\"blue green\""), vec!["Release checklist"]);
    assert!(titles(&f.ix, "\"green blue\"").is_empty());
    // While typing: the last word is a prefix.
    assert_eq!(
        titles(&f.ix, "certif"),
        vec!["How do we rotate certificates?"]
    );
    assert!(titles(&f.ix, "certif ").is_empty());
    // Typos.
    assert_eq!(titles(&f.ix, "kubernets ")[0], "Deploying to Kubernetes");
    assert_eq!(titles(&f.ix, "chekclist "), vec!["Release checklist"]);
    // Answers are searched too.
    assert_eq!(
        titles(&f.ix, "ingress "),
        vec!["How do we rotate certificates?"]
    );
    // Excluded words.
    assert_eq!(
        titles(&f.ix, "kubernetes -ramen "),
        vec!["Deploying to Kubernetes"]
    );
}

#[test]
fn filters_and_scopes() {
    let f = fixture();
    assert_eq!(titles(&f.ix, "tag:release"), vec!["Release checklist"]);
    let mut ops = titles(&f.ix, "tag:ops");
    ops.sort();
    assert_eq!(ops, vec!["Deploying to Kubernetes", "Release checklist"]);
    assert_eq!(
        titles(&f.ix, "kind:question"),
        vec!["How do we rotate certificates?"]
    );
    assert!(titles(&f.ix, "kind:question helm ").is_empty());
    let in_b = Scope {
        spaces: Some(vec![f.b]),
        authors: None,
    };
    assert_eq!(
        titles_in(&f.ix, "the ", &in_b),
        vec!["How do we rotate certificates?"]
    );
    let nobody = Scope {
        spaces: None,
        authors: Some(vec![]),
    };
    assert!(titles_in(&f.ix, "the ", &nobody).is_empty());
    let by_2 = Scope {
        spaces: None,
        authors: Some(vec![member(2)]),
    };
    assert_eq!(
        titles_in(&f.ix, "", &by_2),
        vec!["How do we rotate certificates?"]
    );
    let _ = f.a;
}

#[test]
fn hits_carry_marked_titles_and_snippets() {
    let f = fixture();
    let hits =
        f.ix.search(&parse("rollout helm "), &Scope::default(), 5)
            .unwrap();
    assert_eq!(hits.total, 1);
    let h = &hits.hits[0];
    assert_eq!(
        h.snippet.text,
        "We roll out with helm charts and watch the rollout."
    );
    assert_eq!(h.snippet.marks, vec![(17, 21), (43, 50)]);
    let hits = f.ix.search(&parse("deploy"), &Scope::default(), 5).unwrap();
    assert_eq!(hits.hits[0].title.marks, vec![(0, 9)]);
}

#[test]
fn replace_remove_and_held_heads() {
    let dir = tempfile::tempdir().unwrap();
    let (ix, _) = SearchIndex::open(dir.path()).unwrap();
    let space = SpaceId::random();
    let mut e = entry(space, "Plan", "first words", &[]);
    let mut w = ix.writer().unwrap();
    w.put(&e).unwrap();
    w.commit().unwrap();
    assert_eq!(titles(&ix, "first "), vec!["Plan"]);
    e.body = "second words".into();
    e.heads = 9;
    w.put(&e).unwrap();
    w.commit().unwrap();
    assert!(titles(&ix, "first ").is_empty());
    assert_eq!(titles(&ix, "second "), vec!["Plan"]);
    assert_eq!(ix.held().unwrap().get(&e.id), Some(&9));
    w.remove(e.id);
    w.commit().unwrap();
    assert!(titles(&ix, "second ").is_empty());
    assert!(ix.held().unwrap().is_empty());
}

#[test]
fn links_resolve_by_title_and_alias_within_a_space() {
    let dir = tempfile::tempdir().unwrap();
    let (ix, _) = SearchIndex::open(dir.path()).unwrap();
    let (s, other) = (SpaceId::random(), SpaceId::random());
    let mut target = entry(s, "Runbook", "", &[]);
    target.aliases = vec!["On-call guide".into()];
    let mut from = entry(
        s,
        "Incident 7",
        "see [[runbook]] and [[On-call  guide|the guide]]",
        &[],
    );
    from.links = vec!["runbook".into(), "On-call  guide".into()];
    let mut elsewhere = entry(other, "Elsewhere", "", &[]);
    elsewhere.links = vec!["Runbook".into()];
    let mut w = ix.writer().unwrap();
    for e in [&target, &from, &elsewhere] {
        w.put(e).unwrap();
    }
    w.commit().unwrap();
    let named = ix.named(s, &["on-call guide".into()]).unwrap();
    assert_eq!(named[0].id, target.id);
    let back = ix
        .linking_to(s, &["runbook".into(), "on-call guide".into()])
        .unwrap();
    assert_eq!(back.iter().map(|f| f.id).collect::<Vec<_>>(), vec![from.id]);
    assert_eq!(
        ix.get(from.id).unwrap().unwrap().links,
        vec!["runbook", "on-call guide"]
    );
}

/// Opens the index at `path`, which must be set aside and made anew (empty).
fn made_anew(path: &std::path::Path) {
    let (ix, opened) = SearchIndex::open(path).unwrap();
    assert!(
        matches!(opened, Opened::Created { reason: Some(_) }),
        "{opened:?}"
    );
    assert!(ix.is_empty());
}

#[test]
fn a_damaged_or_outdated_index_is_made_anew() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    {
        let (ix, _) = SearchIndex::open(&path).unwrap();
        let mut w = ix.writer().unwrap();
        w.put(&entry(SpaceId::random(), "Kept", "", &[])).unwrap();
        w.commit().unwrap();
    }
    let (ix, opened) = SearchIndex::open(&path).unwrap();
    assert_eq!(opened, Opened::Existing);
    assert_eq!(ix.len(), 1);
    drop(ix);

    // Garbage over the metadata.
    std::fs::write(path.join("meta.json"), b"{ not json").unwrap();
    made_anew(&path);

    // Every segment file truncated.
    {
        let (ix, _) = SearchIndex::open(&path).unwrap();
        let mut w = ix.writer().unwrap();
        w.put(&entry(SpaceId::random(), "Kept", "words", &[]))
            .unwrap();
        w.commit().unwrap();
    }
    for f in std::fs::read_dir(&path).unwrap() {
        let p = f.unwrap().path();
        if p.extension()
            .is_some_and(|e| e == "fast" || e == "idx" || e == "store")
        {
            std::fs::write(&p, b"xx").unwrap();
        }
    }
    made_anew(&path);

    // Another version's payload.
    let meta = std::fs::read_to_string(path.join("meta.json")).unwrap();
    std::fs::write(
        path.join("meta.json"),
        meta.replace("tacit-index-1", "tacit-index-0"),
    )
    .unwrap();
    let (_, opened) = SearchIndex::open(&path).unwrap();
    assert!(matches!(opened, Opened::Created { reason: Some(r) } if r.contains("version")));
}

#[test]
fn a_quick_open_says_why_an_index_must_be_made_anew_and_leaves_it_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    // None there: no reason to give.
    assert_eq!(SearchIndex::open_existing(&path).err(), Some(None));
    {
        let ix = SearchIndex::create(&path, None).unwrap();
        let mut w = ix.writer().unwrap();
        w.put(&entry(SpaceId::random(), "Kept", "", &[])).unwrap();
        w.commit().unwrap();
        w.finish().unwrap();
    }
    assert_eq!(SearchIndex::open_existing(&path).unwrap().len(), 1);

    // Another version's payload: the reason names it, and nothing is deleted yet.
    let meta = std::fs::read_to_string(path.join("meta.json")).unwrap();
    let older = meta.replace("tacit-index-1", "tacit-index-0");
    std::fs::write(path.join("meta.json"), &older).unwrap();
    let reason = SearchIndex::open_existing(&path).err().flatten().unwrap();
    assert!(reason.contains("version"), "{reason}");
    assert_eq!(
        std::fs::read_to_string(path.join("meta.json")).unwrap(),
        older
    );

    // Made anew on demand: empty, and of this version.
    let ix = SearchIndex::create(&path, Some(&reason)).unwrap();
    assert!(ix.is_empty());
    assert!(SearchIndex::open_existing(&path).is_ok());
}

#[test]
fn a_finished_writer_frees_the_lock_for_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let ix = SearchIndex::create(&dir.path().join("index"), None).unwrap();
    let mut w = ix.writer().unwrap();
    // Only one writer at a time.
    assert!(ix.writer().is_err());
    w.put(&entry(SpaceId::random(), "Written", "", &[]))
        .unwrap();
    w.commit().unwrap();
    w.finish().unwrap();
    let mut again = ix.writer().unwrap();
    again
        .put(&entry(SpaceId::random(), "Again", "", &[]))
        .unwrap();
    again.commit().unwrap();
    assert_eq!(ix.len(), 2);
}

#[test]
fn merges_held_back_during_a_bulk_stream_run_once_it_is_let_go() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    let (ix, _) = SearchIndex::open(&path).unwrap();
    let space = SpaceId::random();
    let mut w = ix.writer().unwrap();
    assert!(w.hold_merges(true));
    for i in 0..12 {
        w.put(&entry(space, &format!("Bulk {i}"), "streamed", &[]))
            .unwrap();
        w.commit().unwrap();
    }
    assert_eq!(ix.segment_count(), 12, "a segment per commit, none merged");
    assert!(!w.hold_merges(true), "held already");
    w.put(&entry(space, "Last", "streamed", &[])).unwrap();
    w.commit().unwrap();
    assert!(w.hold_merges(false));
    // A commit with nothing new starts the merges; finishing waits for them.
    w.commit().unwrap();
    w.finish().unwrap();
    let (ix, opened) = SearchIndex::open(&path).unwrap();
    assert_eq!(opened, Opened::Existing);
    assert!(
        ix.segment_count() < 13,
        "merged once let go: {} segments",
        ix.segment_count()
    );
    assert_eq!(titles(&ix, "streamed").len(), 13);
}
