//! The people benchmark (not a test): who knows about a topic and question routing over a space
//! of 10,000 documents and 200 members, and what reading contributions adds to a first sync.
//!
//! `cargo bench -p tacit-core --bench people` (optionally `-- --docs N --members M
//! --first-sync SECS`, SECS being the first-sync time of 10,000 notes that `cargo bench -p
//! tacit-node --bench sync` printed on the same machine; 7.5 s, measured before signed changes,
//! when not given).
//!
//! The space: 70% notes (1–3 KB, 1–3 tags from 60, written by one of 200 members, a third of
//! them edited by a second member), 30% questions (asked by one member, 0–3 answers by others,
//! a third accepted, thanks from 0–4 members, some confirmations), spread over the last year.
//! Every document is a real Automerge document, saved and loaded again as a joining member
//! receives it.
//!
//! Figures: the time to read every document's contributions after loading it and reading its
//! changes, as a joining member does to check their signatures (what a first sync adds:
//! `Doc::contributions_with`), and the load itself beside it; building the expertise index
//! (what a change costs the next `who`); `who` for 500 topics (p50, p99, max); routing every
//! question of the last 14 days from scratch, and again with a new question while the node
//! keeps the other questions' rankings (p50, p99 over 200 runs); records and health. Goals (issue 13):
//! `who` and routing each under 20 ms at p99; contributions under 10% of a first sync.

#![allow(missing_docs, clippy::unwrap_used)]

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use tacit_core::people::{
    Asked, Contribution, DAY_MS, ExpertIndex, RoutingRules, Topic, health, records, route,
    route_cached,
};
use tacit_core::{DeviceKey, DocId, Kind, MemberId};
use tacit_core::{Doc, Draft, Edit};

/// A small deterministic generator (xorshift), so runs compare.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const WORDS: &[&str] = &[
    "deploy",
    "rotate",
    "cert",
    "cluster",
    "backup",
    "restore",
    "latency",
    "index",
    "schema",
    "migration",
    "budget",
    "invoice",
    "contract",
    "partner",
    "release",
    "rollback",
    "alert",
    "dashboard",
    "queue",
    "cache",
    "token",
    "login",
    "audit",
    "policy",
    "vendor",
    "capacity",
];

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let docs: usize = arg("--docs").and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let n_members: usize = arg("--members").and_then(|v| v.parse().ok()).unwrap_or(200);
    let first_sync: f64 = arg("--first-sync")
        .and_then(|v| v.parse().ok())
        .unwrap_or(7.5);
    let keys: Vec<DeviceKey> = (0..n_members).map(|_| DeviceKey::generate()).collect();
    let members: Vec<MemberId> = keys.iter().map(DeviceKey::member_id).collect();
    let tags: Vec<String> = (0..60).map(|i| format!("topic{i}")).collect();
    let now = 20_000 * DAY_MS;
    let mut rng = Rng(0x5eed_1234_abcd_ef01);

    // Build the space's documents, saved as a member receives them.
    let t = Instant::now();
    let mut saved: Vec<(DocId, Vec<u8>)> = Vec::with_capacity(docs);
    for i in 0..docs {
        let author = rng.below(n_members);
        let at = now - (rng.below(365) as i64) * DAY_MS - rng.below(DAY_MS as usize) as i64;
        let title = format!(
            "{} {} {} #{i}",
            WORDS[rng.below(WORDS.len())],
            WORDS[rng.below(WORDS.len())],
            WORDS[rng.below(WORDS.len())]
        );
        let doc_tags: Vec<String> = (0..1 + rng.below(3))
            .map(|_| tags[rng.below(tags.len())].clone())
            .collect();
        let draft = Draft {
            title,
            body: "x".repeat(1000 + rng.below(2000)),
            tags: doc_tags,
            aliases: Vec::new(),
        };
        let id = DocId::random();
        let mut doc = if i % 10 < 7 {
            let mut d = Doc::new_note(id, Edit::new(members[author], at), draft).unwrap();
            if i % 3 == 0 {
                let other = rng.below(n_members);
                let edit = tacit_core::NoteEdit {
                    body: Some("edited by a colleague".into()),
                    ..Default::default()
                };
                d.edit_text(Edit::new(members[other], at + 1000), edit)
                    .unwrap();
            }
            d
        } else {
            let mut q = Doc::new_question(id, Edit::new(members[author], at), draft).unwrap();
            let mut answers = Vec::new();
            for k in 0..rng.below(4) {
                let by = (author + 1 + rng.below(n_members - 1)) % n_members;
                let a = q
                    .add_answer(
                        Edit::new(members[by], at + 60_000 * (k as i64 + 1)),
                        "Do this.",
                    )
                    .unwrap();
                answers.push((a, by));
            }
            if let Some(&(a, by)) = answers.first() {
                if rng.below(3) == 0 {
                    q.accept(Edit::new(members[author], at + 600_000), a)
                        .unwrap();
                }
                for _ in 0..rng.below(5) {
                    let giver = rng.below(n_members);
                    if giver != by {
                        let _ = q.thank(Edit::new(members[giver], at + 700_000), a);
                    }
                }
                if rng.below(4) == 0 {
                    let _ = q.confirm(Edit::new(members[by], at + 30 * DAY_MS), a);
                }
            }
            q
        };
        saved.push((id, doc.save()));
    }
    let built = t.elapsed();

    // What a first sync adds: loading each document (done anyway) and reading its
    // contributions (added for people).
    let me = members[0];
    let mut load = Duration::ZERO;
    let mut read = Duration::ZERO;
    let mut read_notes = Duration::ZERO;
    let mut notes_read = 0usize;
    let mut all: Vec<Contribution> = Vec::new();
    for (id, bytes) in &saved {
        let t = Instant::now();
        let mut doc = Doc::load(*id, [bytes.as_slice()], me).unwrap();
        // A joining member reads every change of a whole document anyway, to check its
        // signature (`load_whole` in the node); contributions reuse them.
        let changes = doc.changes_since(&[]);
        load += t.elapsed();
        let t = Instant::now();
        all.extend(doc.contributions_with(&changes).unwrap());
        let took = t.elapsed();
        read += took;
        if doc.kind().unwrap() == Kind::Note {
            read_notes += took;
            notes_read += 1;
        }
    }

    // The expertise index, as the next `who` after a change builds it.
    let declared: HashMap<MemberId, Vec<String>> = members
        .iter()
        .step_by(5)
        .map(|m| (*m, vec![tags[rng.below(tags.len())].clone()]))
        .collect();
    let t = Instant::now();
    let index = ExpertIndex::new(all.clone(), declared);
    let index_build = t.elapsed();

    // `who` for 500 topics: a tag, a tag and a word, two words.
    let mut who: Vec<Duration> = Vec::new();
    for i in 0..500 {
        let topic = match i % 3 {
            0 => format!("#{}", tags[rng.below(tags.len())]),
            1 => format!(
                "#{} {}",
                tags[rng.below(tags.len())],
                WORDS[rng.below(WORDS.len())]
            ),
            _ => format!(
                "{} {}",
                WORDS[rng.below(WORDS.len())],
                WORDS[rng.below(WORDS.len())]
            ),
        };
        let t = Instant::now();
        let ranked = index.rank(&Topic::parse(&topic), now, None);
        who.push(t.elapsed());
        assert!(!ranked.is_empty() || i % 3 == 2);
    }
    who.sort();

    // Routing every question of the last 14 days, as each inbox and route listing does.
    let mut first_answer: HashMap<DocId, i64> = HashMap::new();
    for c in all
        .iter()
        .filter(|c| c.act == tacit_core::people::Act::Answered)
    {
        let e = first_answer.entry(c.doc).or_insert(c.at);
        *e = (*e).min(c.at);
    }
    let asked: Vec<Asked> = all
        .iter()
        .filter(|c| c.act == tacit_core::people::Act::Asked)
        .map(|c| Asked {
            id: c.doc,
            asker: c.member,
            topic: Topic {
                tags: c.tags.clone(),
                words: c.words.clone(),
            },
            created_at: c.at,
            first_answer_at: first_answer.get(&c.doc).copied(),
        })
        .collect();
    let recent = asked
        .iter()
        .filter(|q| now - q.created_at < 14 * DAY_MS)
        .count();
    let eligible: BTreeSet<MemberId> = members.iter().copied().collect();
    let limits: HashMap<MemberId, u32> = HashMap::new();
    let mut routing: Vec<Duration> = Vec::new();
    let mut offers = 0;
    for _ in 0..200 {
        let t = Instant::now();
        let routes = route(
            &asked,
            &index,
            &eligible,
            &limits,
            RoutingRules::default(),
            now,
        );
        routing.push(t.elapsed());
        offers = routes.values().map(Vec::len).sum();
    }
    routing.sort();
    // A new question in a space whose earlier questions' rankings the node keeps (until a
    // document of the space changes): what each inbox refresh and each new question costs.
    let newest = asked
        .iter()
        .max_by_key(|q| (q.created_at, q.id))
        .unwrap()
        .id;
    let mut warm: HashMap<DocId, Vec<MemberId>> = HashMap::new();
    route_cached(
        &asked,
        &index,
        &eligible,
        &limits,
        RoutingRules::default(),
        now,
        &mut warm,
    );
    warm.remove(&newest);
    let mut routing_new: Vec<Duration> = Vec::new();
    for _ in 0..200 {
        let mut cache = warm.clone();
        let t = Instant::now();
        let routes = route_cached(
            &asked,
            &index,
            &eligible,
            &limits,
            RoutingRules::default(),
            now,
            &mut cache,
        );
        routing_new.push(t.elapsed());
        assert!(cache.contains_key(&newest), "the new question was ranked");
        drop(routes);
    }
    routing_new.sort();

    let t = Instant::now();
    let recs = records(&all);
    let h = health(&all, &eligible, now);
    let rec_time = t.elapsed();

    let notes = saved.len();
    println!(
        "people benchmark: {notes} documents, {n_members} members, {} contributions",
        all.len()
    );
    println!("  (documents built in {:.1} s)", built.as_secs_f64());
    println!(
        "  first sync: loading every document and its changes {:.0} ms; reading contributions {:.0} ms ({:.1}% of a {first_sync:.1} s first sync of 10,000 notes; goal < 10%)",
        ms(load),
        ms(read),
        read.as_secs_f64() / first_sync * 100.0 * (10_000.0 / docs as f64)
    );
    println!(
        "  of which {notes_read} notes: {:.0} ms, {:.3} ms a note: {:.1}% of a {first_sync:.1} s first sync of 10,000 notes (goal < 10%)",
        ms(read_notes),
        ms(read_notes) / notes_read.max(1) as f64,
        ms(read_notes) / notes_read.max(1) as f64 * 10_000.0 / (first_sync * 1000.0) * 100.0
    );
    println!(
        "  expertise index built in {:.1} ms (the first `who` after a change)",
        ms(index_build)
    );
    println!(
        "  who: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms over 500 topics (goal: p99 < 20 ms)",
        ms(pct(&who, 0.5)),
        ms(pct(&who, 0.99)),
        ms(*who.last().unwrap())
    );
    println!(
        "  routing {} questions from scratch ({recent} in the last 14 days, {offers} offers; the first time after a change): p50 {:.2} ms, p99 {:.2} ms over 200 runs (goal: p99 < 20 ms)",
        asked.len(),
        ms(pct(&routing, 0.5)),
        ms(pct(&routing, 0.99))
    );
    println!(
        "  routing with a new question, the others' rankings kept: p50 {:.3} ms, p99 {:.3} ms over 200 runs (goal: p99 < 20 ms)",
        ms(pct(&routing_new, 0.5)),
        ms(pct(&routing_new, 0.99))
    );
    println!(
        "  records of {} members and health in {:.2} ms ({} of {} members gave in 30 days)",
        recs.len(),
        ms(rec_time),
        h.givers_30d,
        h.members
    );
}
