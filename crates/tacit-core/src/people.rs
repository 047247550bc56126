//! People and giving: what each member's signed work shows (contributions), who knows about a
//! topic (expertise), which members a new question is offered to (routing), each member's
//! record (credit), and a space's health.
//!
//! Everything here is a pure function of documents, so every member computes the same results
//! from the same documents, and nothing new is trusted: a contribution is read from fields whose
//! writers the claims rules check (`Doc::check_claims`), and note authorship from signed changes.
//!
//! ```text
//! documents ──contributions()──▶ [Contribution] ──ExpertIndex──▶ rank(topic)  ("who knows")
//!                                       │                      └──▶ route(questions) (inbox)
//!                                       ├──▶ records()  (credit)
//!                                       └──▶ health()   (space health)
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::doc::{Doc, Kind, NoteView};
use crate::error::CoreError;
use crate::id::{AnswerId, DocId, MemberId};

/// A day in milliseconds.
pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Half-life of a contribution's weight in expertise: work from six months ago counts half as
/// much as today's, so that the people who know a topic *now* come first.
pub const HALF_LIFE_MS: i64 = 182 * DAY_MS;

/// Words of a title too common to say what it is about.
const STOPWORDS: &[&str] = &[
    "about", "after", "again", "all", "and", "any", "are", "but", "can", "could", "does", "did",
    "for", "from", "get", "has", "have", "how", "into", "its", "not", "now", "our", "out",
    "should", "that", "the", "their", "then", "there", "this", "use", "using", "was", "way",
    "what", "when", "where", "which", "who", "why", "will", "with", "would", "you", "your",
];

/// What a member did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum Act {
    /// Asked a question.
    Asked,
    /// Answered a question.
    Answered,
    /// Wrote (created or edited) a note.
    Wrote,
    /// Thanked the author of an answer.
    Thanked,
    /// Confirmed that an answer is still right.
    Confirmed,
}

impl Act {
    /// Its number in the store.
    pub fn code(self) -> i64 {
        match self {
            Act::Asked => 0,
            Act::Answered => 1,
            Act::Wrote => 2,
            Act::Thanked => 3,
            Act::Confirmed => 4,
        }
    }

    /// The act stored as `code`.
    pub fn from_code(code: i64) -> Option<Self> {
        Some(match code {
            0 => Act::Asked,
            1 => Act::Answered,
            2 => Act::Wrote,
            3 => Act::Thanked,
            4 => Act::Confirmed,
            _ => return None,
        })
    }

    /// Whether the act gives to others (answering, writing, thanking, confirming).
    pub fn gives(self) -> bool {
        !matches!(self, Act::Asked)
    }
}

/// One thing a member did in one document, with what it was about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contribution {
    /// Who.
    pub member: MemberId,
    /// What.
    pub act: Act,
    /// In which document.
    pub doc: DocId,
    /// The answer, for `Answered` (and the answer thanked or confirmed).
    pub answer: Option<AnswerId>,
    /// The document's tags.
    pub tags: Vec<String>,
    /// The words of its title that say what it is about ([`title_words`]).
    pub words: Vec<String>,
    /// When, ms.
    pub at: i64,
    /// For an answer: whether the asker accepted it.
    pub accepted: bool,
    /// For an answer: how many members thanked its author.
    pub thanks: u32,
    /// For an answer: votes up minus down.
    pub score: i64,
}

/// The words of a title that say what it is about: lower case, letters and digits, three
/// characters or more, common words left out; each once, the first
/// [`MAX_TITLE_WORDS`](crate::limits::MAX_TITLE_WORDS) of them, read from the title's first
/// [`MAX_TITLE_CHARS`](crate::limits::MAX_TITLE_CHARS) characters (a peer's title may be longer:
/// each contribution carries these words, and routing matches them).
pub fn title_words(title: &str) -> Vec<String> {
    use crate::limits::{MAX_TITLE_CHARS, MAX_TITLE_WORDS};
    let mut out: Vec<String> = Vec::new();
    for w in crate::text::char_prefix(title, MAX_TITLE_CHARS)
        .split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
    {
        if out.len() == MAX_TITLE_WORDS {
            break;
        }
        // At most MAX_TITLE_WORDS to look through: a linear search costs less than a set.
        if w.chars().count() >= 3 && !STOPWORDS.contains(&w.as_str()) && !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

impl Doc {
    /// What each member did in this document, as its signed fields show. A deleted document
    /// shows nothing.
    pub fn contributions(&mut self) -> Result<Vec<Contribution>, CoreError> {
        let changes = if self.kind()? == Kind::Note {
            self.changes_since(&[])
        } else {
            Vec::new()
        };
        self.contributions_with(&changes)
    }

    /// As [`Doc::contributions`], given every change of the document (a note's writers are
    /// read from them) when the caller has them at hand.
    pub fn contributions_with(
        &mut self,
        changes: &[crate::doc::NewChange],
    ) -> Result<Vec<Contribution>, CoreError> {
        if self.is_deleted()? {
            return Ok(Vec::new());
        }
        let id = self.id();
        let base = move |member, act, at| Contribution {
            member,
            act,
            doc: id,
            answer: None,
            tags: Vec::new(),
            words: Vec::new(),
            at,
            accepted: false,
            thanks: 0,
            score: 0,
        };
        let mut out = Vec::new();
        match self.kind()? {
            Kind::Profile => return Ok(out),
            Kind::Note => return Ok(note_contributions(&self.note_meta()?, changes)),
            Kind::Question => {
                let q = self.question()?;
                out.push(base(q.author, Act::Asked, q.created_at));
                // Credit is what others give: a member's own thanks and an asker's accepting
                // their own answer count for nothing, and a member's several answers to one
                // question count once (their best), so that no one can write their way up.
                let mut best: BTreeMap<MemberId, Contribution> = BTreeMap::new();
                for a in &q.answers {
                    let thanks = a.thanked_by.iter().filter(|m| **m != a.author).count();
                    let c = Contribution {
                        answer: Some(a.id),
                        accepted: a.accepted && a.author != q.author,
                        thanks: u32::try_from(thanks).unwrap_or(u32::MAX),
                        score: a.score,
                        ..base(a.author, Act::Answered, a.created_at)
                    };
                    let better = |old: &Contribution| {
                        (c.accepted, c.thanks, c.score, std::cmp::Reverse(c.at))
                            > (
                                old.accepted,
                                old.thanks,
                                old.score,
                                std::cmp::Reverse(old.at),
                            )
                    };
                    match best.get(&a.author) {
                        Some(old) if !better(old) => {}
                        _ => {
                            best.insert(a.author, c);
                        }
                    }
                }
                out.extend(best.into_values());
                // A member's confirmations in one question count once (their latest), as their
                // answers do: confirming a thousand answers of one's own is one act.
                let mut confirmed: BTreeMap<MemberId, Contribution> = BTreeMap::new();
                for a in &q.answers {
                    for (giver, at) in self.thanks_of(a.id)? {
                        if giver == a.author {
                            continue;
                        }
                        out.push(Contribution {
                            answer: Some(a.id),
                            ..base(giver, Act::Thanked, at)
                        });
                    }
                    for (member, at) in self.confirmations(a.id)? {
                        if confirmed.get(&member).is_none_or(|old| at > old.at) {
                            confirmed.insert(
                                member,
                                Contribution {
                                    answer: Some(a.id),
                                    ..base(member, Act::Confirmed, at)
                                },
                            );
                        }
                    }
                }
                out.extend(confirmed.into_values());
                let words = title_words(&q.title);
                for c in &mut out {
                    c.tags = q.tags.clone();
                    c.words = words.clone();
                }
            }
        }
        Ok(out)
    }
}

/// What a question is about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Topic {
    /// Tags (normalised).
    pub tags: Vec<String>,
    /// Words ([`title_words`]).
    pub words: Vec<String>,
}

impl Topic {
    /// A topic from free text: `#tag` and `tag:x` are tags, the rest words; each word also
    /// counts as a tag (people tag what they write about).
    pub fn parse(text: &str) -> Topic {
        let mut tags = Vec::new();
        let mut rest = Vec::new();
        for part in text.split_whitespace() {
            let t = part
                .strip_prefix('#')
                .or_else(|| part.strip_prefix("tag:"))
                .map(str::to_lowercase);
            match t {
                Some(t) if !t.is_empty() => {
                    if !tags.contains(&t) {
                        tags.push(t);
                    }
                }
                _ => rest.push(part),
            }
        }
        let words = title_words(&rest.join(" "));
        for w in &words {
            if !tags.contains(w) {
                tags.push(w.clone());
            }
        }
        Topic { tags, words }
    }

    /// Whether the topic names nothing.
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty() && self.words.is_empty()
    }
}

/// One reason a member knows about a topic, for people to read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Reason {
    /// What they did.
    pub act: Act,
    /// Accepted answers (for `Answered`): counted apart.
    pub accepted: bool,
    /// The tag (`#tls`) or word (`deploy`) it was about; empty for declared expertise.
    pub about: String,
    /// How many times.
    pub count: u32,
    /// The latest, ms.
    pub last_at: i64,
    /// Listed in their profile's expertise rather than shown by their work.
    pub declared: bool,
    /// The sentence: "3 accepted answers on #tls, last in November".
    pub text: String,
}

/// A member who knows about a topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Expert {
    /// The member.
    pub member: MemberId,
    /// How strongly (for ordering; no unit).
    pub score: f64,
    /// Why, strongest first.
    pub reasons: Vec<Reason>,
}

/// Contributions indexed by tag and title word, with declared expertise: ranks the members who
/// know about a topic in time proportional to what matches it.
#[derive(Debug, Clone, Default)]
pub struct ExpertIndex {
    contributions: Vec<Contribution>,
    /// Term (`#tag` or `word`) → indices into `contributions`.
    postings: HashMap<String, Vec<usize>>,
    /// Member → declared expertise tags.
    declared: HashMap<MemberId, Vec<String>>,
    /// The members who contributed or declared, by index (sorted).
    members: Vec<MemberId>,
    /// Per contribution: its member's index in `members`.
    member_ix: Vec<u32>,
    /// Per contribution: its [`weights`] grown by its age's doubling, `weight · 2^(at /
    /// half-life)`: for one `now`, `weight · decay(now, at)` is this times `2^(−now /
    /// half-life)`, the same factor for every member, so routing ranks by these sums without a
    /// power per posting.
    grown: Vec<(f64, f64)>,
}

/// How much one act of a kind counts, before recency and matching, in two parts: what a member
/// makes alone (writing, asking, answering, confirming), and what others give it (an asker's
/// acceptance, thanks, votes).
fn weights(c: &Contribution) -> (f64, f64) {
    match c.act {
        Act::Answered => (
            3.0,
            if c.accepted { 5.0 } else { 0.0 } + f64::from(c.thanks) + 0.5 * c.score.max(0) as f64,
        ),
        Act::Wrote => (2.0, 0.0),
        Act::Confirmed => (1.0, 0.0),
        Act::Asked => (0.5, 0.0),
        Act::Thanked => (0.0, 0.0),
    }
}

/// The most that what a member makes alone counts for one term (a tag, or a title word at
/// [`WORD_MATCH`] of it), in fresh weight: ten new notes. Past it, more of the same shows no
/// more: a member writing a hundred notes or asking a hundred questions on a tag would
/// otherwise rank above everyone who knows it, and take the questions routed to them. What
/// others give (acceptance, thanks, votes) is not capped.
const MADE_CAP: f64 = 20.0;

/// Weight of listing a tag as expertise: a little less than one answer (a claim, not work),
/// and it never fades.
const DECLARED_WEIGHT: f64 = 2.5;
/// A title word counts for half a tag: tags are chosen, words are incidental.
const WORD_MATCH: f64 = 0.5;

/// A weight in millionths: scores are summed as integers, so that every member's machine
/// adds the same contributions in whatever order it holds them and reaches the same order.
fn fixed(w: f64) -> i64 {
    (w * 1e6).round() as i64
}

/// `2^(at / half-life)`: a contribution's weight grown by its age's doubling.
fn grow(at: i64) -> f64 {
    (at as f64 / HALF_LIFE_MS as f64).exp2()
}

fn decay(now: i64, at: i64) -> f64 {
    let age = now.saturating_sub(at).max(0) as f64;
    0.5f64.powf(age / HALF_LIFE_MS as f64)
}

impl ExpertIndex {
    /// The index of `contributions`, with each member's declared expertise.
    pub fn new(
        mut contributions: Vec<Contribution>,
        declared: HashMap<MemberId, Vec<String>>,
    ) -> Self {
        // One order on every machine, whatever order the store gave: sums come out the same.
        contributions.sort_by(|a, b| {
            (a.doc, a.answer, a.member, a.act, a.at).cmp(&(b.doc, b.answer, b.member, b.act, b.at))
        });
        let members: Vec<MemberId> = contributions
            .iter()
            .map(|c| c.member)
            .chain(declared.keys().copied())
            .collect::<BTreeSet<MemberId>>()
            .into_iter()
            .collect();
        let member_ix = contributions
            .iter()
            .map(|c| members.binary_search(&c.member).unwrap_or(0) as u32)
            .collect();
        let grown = contributions
            .iter()
            .map(|c| {
                let (made, given) = weights(c);
                let g = grow(c.at);
                (made * g, given * g)
            })
            .collect();
        let mut postings: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, c) in contributions.iter().enumerate() {
            if c.act == Act::Thanked {
                continue; // thanking shows generosity, not knowledge
            }
            for t in &c.tags {
                postings.entry(format!("#{t}")).or_default().push(i);
            }
            for w in &c.words {
                postings.entry(w.clone()).or_default().push(i);
            }
        }
        Self {
            contributions,
            postings,
            declared,
            members,
            member_ix,
            grown,
        }
    }

    /// The contributions indexed.
    pub fn contributions(&self) -> &[Contribution] {
        &self.contributions
    }

    /// Members ranked by what their work (and declared expertise) shows about `topic`, best
    /// first, with the reasons; only members in `among` when given. Ties go to the smaller
    /// member id, so every member computes the same order.
    pub fn rank(&self, topic: &Topic, now: i64, among: Option<&BTreeSet<MemberId>>) -> Vec<Expert> {
        #[derive(Default)]
        struct Acc {
            score: i64,
            reasons: BTreeMap<(Act, bool, String), (u32, i64, f64)>,
            /// This term's: made alone, given by others.
            made: f64,
            given: f64,
        }
        let mut acc: BTreeMap<MemberId, Acc> = BTreeMap::new();
        let allowed = |m: &MemberId| among.is_none_or(|a| a.contains(m));
        let mut seen: BTreeSet<(usize, MemberId)> = BTreeSet::new();
        let terms = topic
            .tags
            .iter()
            .map(|t| (format!("#{t}"), 1.0, format!("#{t}")))
            .chain(
                topic
                    .words
                    .iter()
                    .map(|w| (w.clone(), WORD_MATCH, w.clone())),
            );
        for (term, factor, about) in terms {
            for &i in self.postings.get(&term).into_iter().flatten() {
                let c = &self.contributions[i];
                if !allowed(&c.member) {
                    continue;
                }
                let d = factor * decay(now, c.at);
                let (made, given) = weights(c);
                let w = (made + given) * d;
                let a = acc.entry(c.member).or_default();
                a.made += made * d;
                a.given += given * d;
                // A document counts once per member in the reasons, under its best term.
                if seen.insert((i, c.member)) {
                    let r = a
                        .reasons
                        .entry((c.act, c.accepted, about.clone()))
                        .or_insert((0, i64::MIN, 0.0));
                    r.0 += 1;
                    r.1 = r.1.max(c.at);
                    r.2 += w;
                }
            }
            for a in acc.values_mut() {
                a.score += fixed(a.made.min(MADE_CAP * factor) + a.given);
                (a.made, a.given) = (0.0, 0.0);
            }
        }
        for (member, tags) in &self.declared {
            if !allowed(member) {
                continue;
            }
            for t in tags.iter().filter(|t| topic.tags.contains(t)) {
                let a = acc.entry(*member).or_default();
                a.score += fixed(DECLARED_WEIGHT);
                a.reasons.insert(
                    (Act::Wrote, true, format!("declared:{t}")),
                    (1, 0, DECLARED_WEIGHT),
                );
            }
        }
        let mut out: Vec<Expert> = acc
            .into_iter()
            .filter(|(_, a)| a.score > 0)
            .map(|(member, a)| {
                let mut reasons: Vec<(f64, Reason)> = a
                    .reasons
                    .into_iter()
                    .map(|((act, accepted, about), (count, last_at, w))| {
                        let declared = about.starts_with("declared:");
                        let about = about.trim_start_matches("declared:").to_owned();
                        let reason = Reason {
                            act,
                            accepted: accepted && act == Act::Answered,
                            text: reason_text(act, accepted, declared, &about, count, last_at),
                            about: if declared { format!("#{about}") } else { about },
                            count,
                            last_at,
                            declared,
                        };
                        (w, reason)
                    })
                    .collect();
                reasons.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.text.cmp(&y.1.text)));
                Expert {
                    member,
                    score: a.score as f64 / 1e6,
                    reasons: reasons.into_iter().map(|(_, r)| r).take(3).collect(),
                }
            })
            .collect();
        out.sort_by(|x, y| y.score.total_cmp(&x.score).then(x.member.cmp(&y.member)));
        out
    }

    /// The members [`ExpertIndex::rank`] gives, in the same order, without the reasons: what
    /// routing needs, many times over, and a good deal faster.
    ///
    /// With `until`, only contributions made by then count: what was known when a question was
    /// asked, so that later work does not change whom it was offered to.
    pub fn ranked_members(
        &self,
        topic: &Topic,
        now: i64,
        among: Option<&BTreeSet<MemberId>>,
        until: Option<i64>,
    ) -> Vec<MemberId> {
        let allowed: Vec<bool> = self
            .members
            .iter()
            .map(|m| among.is_none_or(|a| a.contains(m)))
            .collect();
        // Work after `now` counts as new, not as newer (as `decay` clamps it).
        let cap = grow(now);
        let mut acc = vec![0.0f64; self.members.len()];
        // This term's, per member: made alone, given by others; and who has some.
        let mut made = vec![0.0f64; self.members.len()];
        let mut given = vec![0.0f64; self.members.len()];
        let mut touched: Vec<usize> = Vec::new();
        let terms = topic
            .tags
            .iter()
            .map(|t| (format!("#{t}"), 1.0))
            .chain(topic.words.iter().map(|w| (w.clone(), WORD_MATCH)));
        for (term, factor) in terms {
            for &i in self.postings.get(&term).into_iter().flatten() {
                let m = self.member_ix[i] as usize;
                let at = self.contributions[i].at;
                if allowed[m] && until.is_none_or(|u| at <= u) {
                    let (mw, gw) = if at > now {
                        let (mw, gw) = weights(&self.contributions[i]);
                        (mw * cap, gw * cap)
                    } else {
                        self.grown[i]
                    };
                    if made[m] == 0.0 && given[m] == 0.0 {
                        touched.push(m);
                    }
                    made[m] += mw * factor;
                    given[m] += gw * factor;
                }
            }
            for m in touched.drain(..) {
                acc[m] += made[m].min(MADE_CAP * factor * cap) + given[m];
                (made[m], given[m]) = (0.0, 0.0);
            }
        }
        for (member, tags) in &self.declared {
            if let Ok(m) = self.members.binary_search(member)
                && allowed[m]
            {
                let n = tags.iter().filter(|t| topic.tags.contains(t)).count();
                acc[m] += DECLARED_WEIGHT * cap * n as f64;
            }
        }
        let mut out: Vec<(MemberId, f64)> = self
            .members
            .iter()
            .zip(acc)
            .filter(|(_, s)| *s > 0.0)
            .map(|(m, s)| (*m, s))
            .collect();
        out.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
        out.into_iter().map(|(m, _)| m).collect()
    }
}

fn reason_text(
    act: Act,
    accepted: bool,
    declared: bool,
    about: &str,
    count: u32,
    at: i64,
) -> String {
    if declared {
        return format!("lists #{about} as expertise");
    }
    let thing = match (act, accepted) {
        (Act::Answered, true) => ("accepted answer", "accepted answers"),
        (Act::Answered, false) => ("answer", "answers"),
        (Act::Wrote, _) => ("note", "notes"),
        (Act::Asked, _) => ("question asked", "questions asked"),
        (Act::Confirmed, _) => ("answer confirmed", "answers confirmed"),
        (Act::Thanked, _) => ("thank", "thanks"),
    };
    let noun = if count == 1 { thing.0 } else { thing.1 };
    format!("{count} {noun} on {about}, last in {}", month_name(at))
}

/// The month of `at` (ms) with its year: "November 2026" (this crate has no clock to leave the
/// year out of the current one).
fn month_name(at: i64) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let (y, m, _) = crate::text::civil_from_days(at.div_euclid(DAY_MS));
    format!("{} {y}", MONTHS[usize::try_from(m - 1).unwrap_or(0) % 12])
}

/// A question as routing sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    /// The question.
    pub id: DocId,
    /// Who asked.
    pub asker: MemberId,
    /// What it is about.
    pub topic: Topic,
    /// When, ms.
    pub created_at: i64,
    /// When its first answer came, ms; `None` while unanswered.
    pub first_answer_at: Option<i64>,
}

/// How questions are routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoutingRules {
    /// Members offered a question in each round.
    pub per_round: usize,
    /// Most questions one member is offered in one day.
    pub daily_limit: u32,
    /// Questions older than this many days are not routed (nor count against limits).
    pub window_days: i64,
    /// Most offers of one asker's questions made in one day, all rounds together (first rounds
    /// first): past it their questions wait for the next day's rounds, so that one asker (a
    /// hostile member asking hundreds) cannot spend everyone's daily offers.
    pub per_asker_daily: u32,
}

impl Default for RoutingRules {
    /// Aardvark offered each question to a few people and asked anyone less than once a day;
    /// three per round and three a day keeps a question reaching enough people fast and no one
    /// buried. Two weeks: a question nobody answered in that time is better found in the list.
    fn default() -> Self {
        Self {
            per_round: 3,
            daily_limit: 3,
            window_days: 14,
            // Five new questions' first rounds a day, as many as a newcomer's busy first day
            // asks; new questions go before the next rounds of older ones.
            per_asker_daily: 15,
        }
    }
}

/// The most routed questions a day a member can ask for in their profile.
pub const MAX_QUESTIONS_PER_DAY: u32 = 50;

/// One offer of a question to a member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Route {
    /// The member offered it.
    pub member: MemberId,
    /// The round: 0 when asked, 1 a day later without an answer, and so on.
    pub round: u32,
    /// When the offer was made (the start of its round), ms.
    pub at: i64,
}

/// Which members each recent question is offered to, round by round, as of `now`.
///
/// Rounds are taken day by day: a day's first rounds before the next rounds of older questions,
/// each kind oldest first (then by id). Each round offers the question to the next best
/// `per_round` members who can answer (`eligible`, never the asker) and have not reached their
/// daily limit of offers on the day of the round (`limits`, from their profiles, else
/// `daily_limit`), while the asker's questions have had fewer than `per_asker_daily` offers that
/// day. A round starts every day the question goes unanswered. The same documents give the same
/// routes on every member's machine.
pub fn route(
    questions: &[Asked],
    index: &ExpertIndex,
    eligible: &BTreeSet<MemberId>,
    limits: &HashMap<MemberId, u32>,
    rules: RoutingRules,
    now: i64,
) -> BTreeMap<DocId, Vec<Route>> {
    route_cached(
        questions,
        index,
        eligible,
        limits,
        rules,
        now,
        &mut HashMap::new(),
    )
}

/// [`route`], keeping each question's ranking of members in `ranked` (computed once per
/// question from the work done by the time it was asked; valid while `index` and `eligible`
/// are).
pub fn route_cached(
    questions: &[Asked],
    index: &ExpertIndex,
    eligible: &BTreeSet<MemberId>,
    limits: &HashMap<MemberId, u32>,
    rules: RoutingRules,
    now: i64,
    ranked: &mut HashMap<DocId, Vec<MemberId>>,
) -> BTreeMap<DocId, Vec<Route>> {
    let mut qs: Vec<&Asked> = questions
        .iter()
        .filter(|q| {
            q.created_at <= now
                && now.saturating_sub(q.created_at) < rules.window_days.saturating_mul(DAY_MS)
        })
        .collect();
    qs.sort_by_key(|q| (q.created_at, q.id));
    for q in &qs {
        ranked.entry(q.id).or_insert_with(|| {
            let mut candidates = eligible.clone();
            candidates.remove(&q.asker);
            index.ranked_members(
                &q.topic,
                q.created_at,
                Some(&candidates),
                Some(q.created_at),
            )
        });
    }
    let ranked: &HashMap<DocId, Vec<MemberId>> = ranked;
    // Rounds are taken day by day, and within a day first rounds before later ones (then
    // oldest first): a day's offers go to new questions before the next rounds of old ones.
    // Each entry: (day, round, start, index in `qs`); per question, the next ranked member.
    let mut rounds: BTreeSet<(i64, u32, i64, usize)> = qs
        .iter()
        .enumerate()
        .map(|(i, q)| (q.created_at.div_euclid(DAY_MS), 0, q.created_at, i))
        .collect();
    let mut next: Vec<usize> = vec![0; qs.len()];
    let mut load: HashMap<(MemberId, i64), u32> = HashMap::new();
    let mut spent: HashMap<(MemberId, i64), u32> = HashMap::new();
    let mut out: BTreeMap<DocId, Vec<Route>> = qs.iter().map(|q| (q.id, Vec::new())).collect();
    while let Some((day, round, start, i)) = rounds.pop_first() {
        let q = qs[i];
        if start > now || q.first_answer_at.is_some_and(|a| a <= start) {
            continue;
        }
        let ranked = ranked.get(&q.id).map_or(&[][..], Vec::as_slice);
        let routes = out.entry(q.id).or_default();
        let asker_spent = spent.entry((q.asker, day)).or_insert(0);
        let mut picked = 0;
        while picked < rules.per_round
            && next[i] < ranked.len()
            && *asker_spent < rules.per_asker_daily
        {
            let m = ranked[next[i]];
            next[i] += 1;
            let n = load.entry((m, day)).or_insert(0);
            if *n >= limits.get(&m).copied().unwrap_or(rules.daily_limit) {
                continue;
            }
            *n += 1;
            *asker_spent += 1;
            picked += 1;
            routes.push(Route {
                member: m,
                round,
                at: start,
            });
        }
        if next[i] < ranked.len() {
            let start = start.saturating_add(DAY_MS);
            rounds.insert((start.div_euclid(DAY_MS), round + 1, start, i));
        }
    }
    out
}

/// A member's record: what they gave and asked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Record {
    /// Answers written.
    pub answers: u32,
    /// Of them, accepted by the asker.
    pub accepted: u32,
    /// Thanks received for their answers.
    pub thanks_received: u32,
    /// Notes written in shared spaces.
    pub notes: u32,
    /// Questions asked.
    pub questions: u32,
    /// Thanks given to others.
    pub thanks_given: u32,
    /// Their latest contribution, ms (0 when none).
    pub last_at: i64,
}

impl Record {
    /// Adds what `c` shows.
    pub fn add(&mut self, c: &Contribution) {
        match c.act {
            Act::Answered => {
                self.answers += 1;
                self.accepted += u32::from(c.accepted);
                self.thanks_received = self.thanks_received.saturating_add(c.thanks);
            }
            Act::Wrote => self.notes += 1,
            Act::Asked => self.questions += 1,
            Act::Thanked => self.thanks_given += 1,
            Act::Confirmed => {}
        }
        self.last_at = self.last_at.max(c.at);
    }
}

/// Every member's record from `contributions`.
pub fn records<'a>(
    contributions: impl IntoIterator<Item = &'a Contribution>,
) -> BTreeMap<MemberId, Record> {
    let mut out: BTreeMap<MemberId, Record> = BTreeMap::new();
    for c in contributions {
        out.entry(c.member).or_default().add(c);
    }
    out
}

/// A space's health: whether knowledge flows, and where it waits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Health {
    /// Current members.
    pub members: u32,
    /// Members who gave (answered, wrote, thanked or confirmed) in the last 30 days.
    pub givers_30d: u32,
    /// `givers_30d` / `members`, 0 to 1; the 90-9-1 rule of thumb puts it near 0.1.
    pub giver_share: f64,
    /// Median time from a question to its first answer, ms, over answered questions.
    pub median_first_answer_ms: Option<i64>,
    /// Questions asked.
    pub questions: u32,
    /// Of them, with at least one answer.
    pub answered: u32,
    /// `answered` / `questions`, 0 to 1 (1 when there are none).
    pub answered_share: f64,
    /// Questions without an answer, oldest first: (question, asked at).
    pub unanswered: Vec<(DocId, i64)>,
    /// Members who gave most since the start of this month (UTC), most first, with how often.
    pub top_givers: Vec<(MemberId, u32)>,
}

/// The health of a space whose current members are `members`, from its contributions.
pub fn health<'a>(
    contributions: impl IntoIterator<Item = &'a Contribution>,
    members: &BTreeSet<MemberId>,
    now: i64,
) -> Health {
    let month_start = {
        let (y, m, _) = crate::text::civil_from_days(now.div_euclid(DAY_MS));
        crate::text::days_from_civil(y, m, 1) * DAY_MS
    };
    let mut givers: BTreeSet<MemberId> = BTreeSet::new();
    let mut month: BTreeMap<MemberId, u32> = BTreeMap::new();
    let mut asked: BTreeMap<DocId, i64> = BTreeMap::new();
    let mut first: BTreeMap<DocId, i64> = BTreeMap::new();
    for c in contributions {
        if c.act.gives() && members.contains(&c.member) {
            if now.saturating_sub(c.at) <= 30 * DAY_MS {
                givers.insert(c.member);
            }
            if c.at >= month_start {
                *month.entry(c.member).or_default() += 1;
            }
        }
        match c.act {
            Act::Asked => {
                asked.insert(c.doc, c.at);
            }
            Act::Answered => {
                let e = first.entry(c.doc).or_insert(c.at);
                *e = (*e).min(c.at);
            }
            _ => {}
        }
    }
    let mut waits: Vec<i64> = asked
        .iter()
        .filter_map(|(q, at)| first.get(q).map(|f| f.saturating_sub(*at).max(0)))
        .collect();
    waits.sort_unstable();
    let median = (!waits.is_empty()).then(|| waits[waits.len() / 2]);
    let mut unanswered: Vec<(DocId, i64)> = asked
        .iter()
        .filter(|(q, _)| !first.contains_key(*q))
        .map(|(q, at)| (*q, *at))
        .collect();
    unanswered.sort_by_key(|(q, at)| (*at, *q));
    let mut top: Vec<(MemberId, u32)> = month.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    top.truncate(5);
    let n = u32::try_from(members.len()).unwrap_or(u32::MAX);
    let questions = u32::try_from(asked.len()).unwrap_or(u32::MAX);
    let answered = questions - u32::try_from(unanswered.len()).unwrap_or(0);
    let givers_30d = u32::try_from(givers.len()).unwrap_or(u32::MAX);
    Health {
        members: n,
        givers_30d,
        giver_share: if n == 0 {
            0.0
        } else {
            f64::from(givers_30d) / f64::from(n)
        },
        median_first_answer_ms: median,
        questions,
        answered,
        answered_share: if questions == 0 {
            1.0
        } else {
            f64::from(answered) / f64::from(questions)
        },
        unanswered,
        top_givers: top,
    }
}

/// Operations (characters typed or deleted, fields set) another member's changes to a note must
/// hold for the note to count as written by them too.
pub const MIN_WRITTEN_OPS: u64 = 24;

/// The contributions of a live note (`note`: its view, the body not needed) written by
/// `changes` (every change of it): its author, and each other member whose signed changes hold
/// at least [`MIN_WRITTEN_OPS`] operations, at their last change, the author at least at its
/// creation. As [`Doc::contributions_with`] gives them, for
/// a caller that holds the view already (a note just made).
pub fn note_contributions(note: &NoteView, changes: &[crate::doc::NewChange]) -> Vec<Contribution> {
    let mut last: BTreeMap<MemberId, (i64, u64)> = BTreeMap::new();
    for c in changes {
        if let Some(a) = c.author {
            let e = last.entry(a).or_insert((c.at, 0));
            e.0 = e.0.max(c.at);
            e.1 = e.1.saturating_add(c.ops);
        }
    }
    // Another member wrote the note too when their changes hold a sentence's worth of
    // operations: a typo fixed, or a character changed in every note of a space, is no credit.
    last.retain(|m, (_, ops)| *m == note.author || *ops >= MIN_WRITTEN_OPS);
    let mut last: BTreeMap<MemberId, i64> = last.into_iter().map(|(m, (at, _))| (m, at)).collect();
    last.entry(note.author).or_insert(note.created_at);
    let (tags, words) = (note.all_tags(), title_words(&note.title));
    last.into_iter()
        .map(|(member, at)| Contribution {
            member,
            act: Act::Wrote,
            doc: note.id,
            answer: None,
            tags: tags.clone(),
            words: words.clone(),
            at: if member == note.author {
                at.max(note.created_at)
            } else {
                at
            },
            accepted: false,
            thanks: 0,
            score: 0,
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn m(n: u8) -> MemberId {
        MemberId::from_bytes([n; 32])
    }

    fn c(member: u8, act: Act, tags: &[&str], at: i64) -> Contribution {
        Contribution {
            member: m(member),
            act,
            doc: DocId::from_bytes([member; 16]),
            answer: None,
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            words: Vec::new(),
            at,
            accepted: false,
            thanks: 0,
            score: 0,
        }
    }

    #[test]
    fn title_words_drop_common_and_short_words() {
        assert_eq!(
            title_words("How do we rotate the TLS cert? Rotate!"),
            ["rotate", "tls", "cert"]
        );
        let t = Topic::parse("#TLS rotate tag:ops");
        assert_eq!(t.tags, ["tls", "ops", "rotate"]);
        assert_eq!(t.words, ["rotate"]);
    }

    #[test]
    fn accepted_recent_answers_rank_first_with_reasons() {
        let now = 400 * DAY_MS;
        let mut accepted = c(1, Act::Answered, &["tls"], now - 10 * DAY_MS);
        accepted.accepted = true;
        let old = c(2, Act::Answered, &["tls"], now - 700 * DAY_MS);
        let recent = c(3, Act::Answered, &["tls"], now - DAY_MS);
        let other = c(4, Act::Answered, &["k8s"], now);
        let index = ExpertIndex::new(
            vec![accepted.clone(), old, recent, other],
            HashMap::from([(m(5), vec!["tls".to_owned()])]),
        );
        let ranked = index.rank(&Topic::parse("#tls"), now, None);
        let order: Vec<MemberId> = ranked.iter().map(|e| e.member).collect();
        assert_eq!(order, [m(1), m(3), m(5), m(2)]);
        assert!(
            ranked[0].reasons[0]
                .text
                .starts_with("1 accepted answer on #tls, last in"),
            "{:?}",
            ranked[0].reasons
        );
        assert_eq!(ranked[2].reasons[0].text, "lists #tls as expertise");
        assert_eq!(
            index.ranked_members(&Topic::parse("#tls"), now, None, None),
            order
        );
        let among = BTreeSet::from([m(3)]);
        assert_eq!(
            index.rank(&Topic::parse("#tls"), now, Some(&among)).len(),
            1
        );
    }

    /// A member making a hundred notes on a tag (or asking a hundred questions on it) shows no
    /// more than one who made ten: one who made nine and had an answer accepted ranks first.
    #[test]
    fn a_hundred_notes_on_a_tag_show_no_more_than_ten() {
        let now = 100 * DAY_MS;
        let on = |member: u8, act: Act, n: u8| {
            (0..n).map(move |i| {
                let mut x = c(member, act, &["k8s"], now - DAY_MS);
                x.doc = DocId::from_bytes([member, i, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
                x
            })
        };
        let mut accepted = c(2, Act::Answered, &["k8s"], now - DAY_MS);
        accepted.accepted = true;
        let all: Vec<Contribution> = on(1, Act::Wrote, 100)
            .chain(on(2, Act::Wrote, 9))
            .chain([accepted])
            .chain(on(3, Act::Asked, 100))
            .chain(on(4, Act::Wrote, 3))
            .collect();
        let index = ExpertIndex::new(all, HashMap::new());
        let topic = Topic::parse("#k8s");
        let ranked = index.rank(&topic, now, None);
        let order: Vec<MemberId> = ranked.iter().map(|e| e.member).collect();
        assert_eq!(order, [m(2), m(1), m(3), m(4)]);
        // The reasons still count every note.
        assert!(
            ranked[1].reasons[0].text.starts_with("100 notes on #k8s"),
            "{:?}",
            ranked[1].reasons
        );
        assert_eq!(index.ranked_members(&topic, now, None, None), order);
    }

    #[test]
    fn routing_offers_three_never_the_asker_respects_the_daily_limit_and_moves_on_each_day() {
        let now = 100 * DAY_MS;
        let experts: Vec<Contribution> = (1..=8)
            .map(|i| {
                let mut a = c(i, Act::Answered, &["tls"], now - i64::from(i) * DAY_MS);
                a.accepted = i <= 2;
                a
            })
            .collect();
        let index = ExpertIndex::new(experts, HashMap::new());
        let eligible: BTreeSet<MemberId> = (1..=8).map(m).collect();
        let rules = RoutingRules {
            per_round: 3,
            daily_limit: 1,
            window_days: 14,
            per_asker_daily: 3,
        };
        let q = |n: u8, asker: u8, at: i64| Asked {
            id: DocId::from_bytes([100 + n; 16]),
            asker: m(asker),
            topic: Topic::parse("#tls"),
            created_at: at,
            first_answer_at: None,
        };
        let first = q(1, 1, now);
        let second = q(2, 9, now + 1);
        let routes = route(
            &[first.clone(), second.clone()],
            &index,
            &eligible,
            &HashMap::new(),
            rules,
            now + 1,
        );
        let to = |id: DocId| -> Vec<MemberId> { routes[&id].iter().map(|r| r.member).collect() };
        // The asker (1) is never offered its own question; with one offer a day each, the
        // second question goes to the next three.
        assert_eq!(to(first.id), [m(2), m(3), m(4)]);
        assert_eq!(to(second.id), [m(1), m(5), m(6)]);
        // A day later, unanswered: the next ones.
        let later = route(
            std::slice::from_ref(&first),
            &index,
            &eligible,
            &HashMap::new(),
            rules,
            now + DAY_MS,
        );
        let rounds: Vec<(u32, MemberId)> = later[&first.id]
            .iter()
            .map(|r| (r.round, r.member))
            .collect();
        assert_eq!(rounds[3..], [(1, m(5)), (1, m(6)), (1, m(7))]);
        // A member who asks for no questions in their profile is passed over.
        let quiet = HashMap::from([(m(2), 0)]);
        let skipped = route(
            std::slice::from_ref(&first),
            &index,
            &eligible,
            &quiet,
            rules,
            now,
        );
        let to_first: Vec<MemberId> = skipped[&first.id].iter().map(|r| r.member).collect();
        assert_eq!(to_first, [m(3), m(4), m(5)]);
        // Answered before the next round: no more offers.
        let answered = Asked {
            first_answer_at: Some(now + 5),
            ..first.clone()
        };
        assert_eq!(
            route(
                &[answered],
                &index,
                &eligible,
                &HashMap::new(),
                rules,
                now + 3 * DAY_MS
            )[&first.id]
                .len(),
            3
        );
    }

    /// A hostile member asking a hundred questions gets its daily share of offers, and the
    /// question of a member who asked once is still offered; a question dated in the far past
    /// or future is offered to no one, and nothing overflows.
    #[test]
    fn one_asker_spends_at_most_its_share_of_the_offers() {
        let now = 100 * DAY_MS;
        let experts: Vec<Contribution> = (1..=40)
            .map(|i| c(i, Act::Answered, &["tls"], now - DAY_MS))
            .collect();
        let index = ExpertIndex::new(experts, HashMap::new());
        let eligible: BTreeSet<MemberId> = (1..=40).map(m).collect();
        let q = |n: u16, asker: u8, at: i64| Asked {
            id: DocId::from_bytes({
                let mut b = [0u8; 16];
                b[..2].copy_from_slice(&n.to_be_bytes());
                b
            }),
            asker: m(asker),
            topic: Topic::parse("#tls"),
            created_at: at,
            first_answer_at: None,
        };
        let day = now - DAY_MS;
        let mut qs: Vec<Asked> = (0..100).map(|n| q(n, 50, day + i64::from(n))).collect();
        let honest = q(1000, 51, now - 5);
        qs.push(honest.clone());
        qs.push(q(1001, 52, i64::MIN));
        qs.push(q(1002, 52, i64::MAX));
        let routes = route(
            &qs,
            &index,
            &eligible,
            &HashMap::new(),
            RoutingRules::default(),
            now + DAY_MS / 2,
        );
        let rules = RoutingRules::default();
        let mut per_day: HashMap<i64, u32> = HashMap::new();
        for q in &qs[..100] {
            for r in routes.get(&q.id).into_iter().flatten() {
                *per_day.entry(r.at.div_euclid(DAY_MS)).or_default() += 1;
            }
        }
        // Asked yesterday: yesterday's first rounds and today's second ones, a share each.
        assert_eq!(per_day.len(), 2, "{per_day:?}");
        assert!(
            per_day.values().all(|n| *n == rules.per_asker_daily),
            "{per_day:?}"
        );
        assert_eq!(routes[&honest.id].len(), 3);
        assert!(routes.get(&qs[101].id).is_none_or(Vec::is_empty));
        assert!(routes.get(&qs[102].id).is_none_or(Vec::is_empty));
    }

    /// A member who changes a character of a note is not credited with writing it; one who
    /// writes a sentence in it is.
    #[test]
    fn a_typo_fixed_is_no_credit_and_a_sentence_is() {
        use crate::doc::{Draft, Edit, NoteEdit};
        let (ada, bo) = (m(1), m(2));
        let mut doc = crate::Doc::new_note(
            DocId::from_bytes([7; 16]),
            Edit::new(ada, 1_000),
            Draft {
                title: "Rotating certificates".into(),
                body: "Run the playbook on the first of the month.".into(),
                ..Draft::default()
            },
        )
        .unwrap();
        let writers = |doc: &mut crate::Doc| -> Vec<MemberId> {
            let changes = doc.changes_since(&[]);
            note_contributions(&doc.note().unwrap(), &changes)
                .into_iter()
                .map(|c| c.member)
                .collect()
        };
        let edit = |doc: &mut crate::Doc, body: &str, at: i64| {
            doc.edit_text(
                Edit::new(bo, at),
                NoteEdit {
                    body: Some(body.into()),
                    ..NoteEdit::default()
                },
            )
            .unwrap();
        };
        edit(
            &mut doc,
            "Run the playbook on the first of the month!",
            2_000,
        );
        assert_eq!(writers(&mut doc), [ada]);
        edit(
            &mut doc,
            "Run the playbook on the first of the month! Check the staging CA first.",
            3_000,
        );
        assert_eq!(writers(&mut doc), [ada, bo]);
    }

    /// A title of a hundred thousand distinct words gives the first few, at once.
    #[test]
    fn a_huge_title_gives_a_few_words() {
        let title: String = (0..100_000).map(|i| format!("word{i} ")).collect();
        let words = title_words(&title);
        assert_eq!(words.len(), crate::limits::MAX_TITLE_WORDS);
        assert_eq!(words[0], "word0");
    }

    #[test]
    fn records_and_health_count_what_happened() {
        let now = 1000 * DAY_MS;
        let mut a = c(2, Act::Answered, &["tls"], now - DAY_MS);
        a.accepted = true;
        a.thanks = 2;
        a.doc = DocId::from_bytes([9; 16]);
        let mut q = c(1, Act::Asked, &["tls"], now - 2 * DAY_MS);
        q.doc = a.doc;
        let lonely = c(3, Act::Asked, &["k8s"], now - 5 * DAY_MS);
        let thanks = c(1, Act::Thanked, &["tls"], now - DAY_MS);
        let all = vec![a, q, lonely.clone(), thanks];
        let r = records(&all);
        assert_eq!(r[&m(2)].answers, 1);
        assert_eq!((r[&m(2)].accepted, r[&m(2)].thanks_received), (1, 2));
        assert_eq!(r[&m(1)].questions, 1);
        assert_eq!(r[&m(1)].thanks_given, 1);
        let members: BTreeSet<MemberId> = (1..=4).map(m).collect();
        let h = health(&all, &members, now);
        assert_eq!((h.members, h.givers_30d), (4, 2));
        assert_eq!(h.questions, 2);
        assert_eq!(h.answered, 1);
        assert_eq!(h.median_first_answer_ms, Some(DAY_MS));
        assert_eq!(h.unanswered, vec![(lonely.doc, lonely.at)]);
    }

    #[test]
    fn nobody_writes_their_way_up() {
        use crate::doc::{Draft, Edit};
        use crate::key::DeviceKey;
        let asker = DeviceKey::generate();
        let helper = DeviceKey::generate();
        let e = |k: &DeviceKey, at: i64| Edit::new(k.member_id(), at);
        let mut q = Doc::new_question(
            DocId::random(),
            e(&asker, 1),
            Draft {
                title: "How do we rotate the TLS cert?".into(),
                tags: vec!["tls".into()],
                ..Draft::default()
            },
        )
        .unwrap();
        // The asker answers and accepts their own answer; the helper answers three times.
        let own = q.add_answer(e(&asker, 2), "I found it").unwrap();
        q.accept(e(&asker, 3), own).unwrap();
        let mut helpers = Vec::new();
        for at in 4..7 {
            helpers.push(q.add_answer(e(&helper, at), "certbot renew").unwrap());
        }
        assert!(q.thank(e(&asker, 8), helpers[1]).unwrap());
        let all = q.contributions().unwrap();
        let answered: Vec<&Contribution> = all.iter().filter(|c| c.act == Act::Answered).collect();
        assert_eq!(answered.len(), 2, "one answer each: {answered:?}");
        let mine = answered
            .iter()
            .find(|c| c.member == asker.member_id())
            .unwrap();
        assert!(!mine.accepted, "accepting one's own answer is no credit");
        let theirs = answered
            .iter()
            .find(|c| c.member == helper.member_id())
            .unwrap();
        assert_eq!(theirs.answer, Some(helpers[1]), "the thanked one counts");
        assert_eq!(theirs.thanks, 1);
        let r = records(&all);
        assert_eq!(
            (
                r[&helper.member_id()].answers,
                r[&asker.member_id()].accepted
            ),
            (1, 0)
        );
    }
}
