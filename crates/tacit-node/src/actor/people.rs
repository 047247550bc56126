//! The actor's side of people and giving: who knows what, the inbox (routed questions, answers
//! to this member's questions, followed tags, answers to confirm), records, space health, and
//! the one-step moves between notes and answers.
//!
//! Everything is computed from the contributions the store keeps per document (written with the
//! document, from its signed fields), so it costs nothing while syncing and is rebuilt from the
//! documents at will. The expertise index of a space is built when first asked for and kept until
//! a document of the space or a profile changes.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use tacit_core::people::{
    Act, Asked, Contribution, DAY_MS, ExpertIndex, Record, RoutingRules, Topic, health, records,
    route_cached,
};
use tacit_core::{Doc, DocId, Draft, Edit, Kind, MemberId, Role, SpaceId};
use tacit_store::Listed;

use super::{Actor, Outcome};
use crate::api::{
    ContributionView, ExpertInfo, HealthView, InboxItem, InboxKind, PersonDetail, PersonInfo,
    RecordStatement, RecordView, Response, SpaceRecord,
};
use crate::base::now_ms;
use crate::error::NodeError;

/// Answers to this member's questions stay in the inbox this long.
const INBOX_ANSWERS_MS: i64 = 30 * DAY_MS;
/// Most inbox items listed: newest first.
const INBOX_MAX: usize = 200;
/// Most inbox items of one kind from one other member (questions they asked on a followed tag,
/// answers they wrote to this member's questions).
const INBOX_PER_MEMBER: usize = 20;
/// Most experts `who` lists when not told.
const WHO_DEFAULT: usize = 10;
/// Most recent contributions on a person page.
const RECENT_MAX: usize = 20;
/// The format of record statements.
const RECORD_FORMAT: u32 = 1;
const RECORD_DOMAIN: &[u8] = b"tacit-record-v1\0";

/// An inbox item before names are looked up: (key, kind, space, question, answer, by, at,
/// reason).
type RawInboxItem = (
    String,
    InboxKind,
    SpaceId,
    DocId,
    Option<tacit_core::AnswerId>,
    MemberId,
    i64,
    String,
);

impl Actor {
    /// Checks a record statement someone passed on.
    pub(super) fn record_verify(&self, statement: &str) -> Result<Outcome, NodeError> {
        Ok(Outcome::read(Response::RecordVerified(verify_record(
            statement,
        )?)))
    }

    /// The contributions of one shared space or of every space this home shares.
    fn contributions_of(
        &mut self,
        space: Option<SpaceId>,
    ) -> Result<Arc<Vec<(SpaceId, Contribution)>>, NodeError> {
        if let Some(c) = self.people.contributions.get(&space) {
            return Ok(c.clone());
        }
        let personal = self.info.personal;
        let all: Vec<(SpaceId, Contribution)> = self
            .store
            .contributions(space)?
            .into_iter()
            // The personal space is this member's alone: it shows nothing to others.
            .filter(|(s, _)| *s != personal)
            .collect();
        let all = Arc::new(all);
        self.people.contributions.insert(space, all.clone());
        Ok(all)
    }

    /// Declared expertise of every member known by profile.
    fn declared(&mut self, members: &BTreeSet<MemberId>) -> HashMap<MemberId, Vec<String>> {
        members
            .iter()
            .filter_map(|m| {
                let p = self.profile_of(*m)?;
                (!p.expertise.is_empty()).then_some((*m, p.expertise))
            })
            .collect()
    }

    fn expert_index(&mut self, space: Option<SpaceId>) -> Result<Arc<ExpertIndex>, NodeError> {
        if let Some(i) = self.people.indexes.get(&space) {
            return Ok(i.clone());
        }
        let contributions: Vec<Contribution> = self
            .contributions_of(space)?
            .iter()
            .map(|(_, c)| c.clone())
            .collect();
        let members = self.members_in(space);
        let declared = self.declared(&members);
        let index = Arc::new(ExpertIndex::new(contributions, declared));
        self.people.indexes.insert(space, index.clone());
        Ok(index)
    }

    /// The current members of a space, or of every shared space this member is in.
    fn members_in(&self, space: Option<SpaceId>) -> BTreeSet<MemberId> {
        let me = self.info.member;
        self.spaces
            .values()
            .filter(|s| !s.legacy && s.membership.is_member(&me))
            .filter(|s| space.is_none_or(|id| id == s.row.id))
            .flat_map(|s| s.membership.members().keys().copied())
            .collect()
    }

    /// A member's name as shown and organisation: [`Actor::chosen_name_of`], told apart from
    /// look-alikes (see [`tacit_core::names`]).
    pub(super) fn name_of(&mut self, member: MemberId) -> (String, String) {
        match self.shown_names().get(&member) {
            Some(shown) => shown.clone(),
            None => self.chosen_name_of(member),
        }
    }

    /// Every member this home knows: its own, and the current and removed members of every
    /// space it holds.
    fn known_members(&self) -> BTreeSet<MemberId> {
        self.spaces
            .values()
            .flat_map(|s| {
                s.membership
                    .members()
                    .keys()
                    .chain(s.membership.removed().keys())
                    .copied()
                    .collect::<Vec<_>>()
            })
            .chain(std::iter::once(self.info.member))
            .collect()
    }

    /// Every known member's name as shown (see [`Actor::known_members`]), and organisation.
    pub(super) fn shown_names(&mut self) -> Arc<HashMap<MemberId, (String, String)>> {
        if let Some(names) = &self.people.names {
            return names.clone();
        }
        let known = self.known_members();
        let chosen: Vec<(MemberId, String, String)> = known
            .into_iter()
            .map(|m| {
                let (name, org) = self.chosen_name_of(m);
                (m, name, org)
            })
            .collect();
        let pairs: Vec<(MemberId, String)> =
            chosen.iter().map(|(m, n, _)| (*m, n.clone())).collect();
        let mut shown = tacit_core::names::told_apart(&pairs, self.info.member);
        let names: HashMap<MemberId, (String, String)> = chosen
            .into_iter()
            .map(|(m, name, org)| (m, (shown.remove(&m).unwrap_or(name), org)))
            .collect();
        let names = Arc::new(names);
        self.people.names = Some(names.clone());
        names
    }

    /// A member's display name and organisation as they chose them: their profile, else what
    /// they joined with.
    fn chosen_name_of(&mut self, member: MemberId) -> (String, String) {
        if let Some((name, org)) = self.profile_name_of(member)
            && !name.is_empty()
        {
            return (name, org);
        }
        for s in self.spaces.values() {
            if let Some(m) = s.membership.members().get(&member) {
                return (m.name.clone(), m.org.clone());
            }
            if let Some(r) = s.membership.removed().get(&member) {
                return (r.member.name.clone(), r.member.org.clone());
            }
        }
        (member.short(), String::new())
    }

    /// Whether `org` is another organisation than this member's.
    fn is_partner(&mut self, org: &str) -> bool {
        let mine = self.name_of(self.info.member).1;
        !org.trim().is_empty()
            && !mine.trim().is_empty()
            && !org.trim().eq_ignore_ascii_case(mine.trim())
    }

    fn shared_space(&self, name: Option<&str>) -> Result<Option<SpaceId>, NodeError> {
        let Some(name) = name else { return Ok(None) };
        let space = self.space_ref(Some(name))?;
        if space == self.info.personal {
            return Err(NodeError::Invalid(
                "the personal space is yours alone: ask about a shared space".into(),
            ));
        }
        Ok(Some(space))
    }

    pub(super) fn who(
        &mut self,
        topic: &str,
        space: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Outcome, NodeError> {
        let topic = Topic::parse(topic);
        if topic.is_empty() {
            return Err(NodeError::Invalid(
                "say what about: tags (#tls) or words (certificate rotation)".into(),
            ));
        }
        let space = self.shared_space(space)?;
        let index = self.expert_index(space)?;
        let among = self.members_in(space);
        let limit = limit.map_or(WHO_DEFAULT, |n| n as usize);
        let ranked = index.rank(&topic, now_ms(), Some(&among));
        let mut items = Vec::new();
        for e in ranked.into_iter().take(limit) {
            let (name, org) = self.name_of(e.member);
            let partner = self.is_partner(&org);
            items.push(ExpertInfo {
                member: e.member,
                name,
                org,
                partner,
                score: e.score,
                reasons: e.reasons,
            });
        }
        Ok(Outcome::read(Response::Experts { items }))
    }

    /// When a member's device was last connected to this one, ms.
    fn last_seen(&self, member: MemberId) -> (Option<i64>, bool) {
        let connected = self.net_view().connected_members().contains(&member);
        if connected {
            return (Some(now_ms()), true);
        }
        let peer = tacit_net::peer_id_of(&member).map(|p| p.to_string());
        let seen = self.store.addresses().ok().and_then(|book| {
            book.iter()
                .filter(|a| Some(&a.peer) == peer.as_ref())
                .map(|a| a.last_seen)
                .max()
        });
        (seen, false)
    }

    pub(super) fn people_page(&mut self, space: &str) -> Result<Outcome, NodeError> {
        let space = self
            .shared_space(Some(space))?
            .ok_or_else(|| NodeError::Internal("no space".into()))?;
        let contributions = self.contributions_of(Some(space))?;
        let recs = records(contributions.iter().map(|(_, c)| c));
        let mut topics: HashMap<MemberId, BTreeMap<String, u32>> = HashMap::new();
        for (_, c) in contributions.iter().filter(|(_, c)| c.act.gives()) {
            for t in &c.tags {
                *topics
                    .entry(c.member)
                    .or_default()
                    .entry(t.clone())
                    .or_default() += 1;
            }
        }
        let members: Vec<(MemberId, Role)> = self
            .spaces
            .get(&space)
            .map(|s| {
                s.membership
                    .members()
                    .iter()
                    .map(|(id, m)| (*id, m.role))
                    .collect()
            })
            .unwrap_or_default();
        let mut items = Vec::new();
        for (member, role) in members {
            let (name, org) = self.name_of(member);
            let partner = self.is_partner(&org);
            let expertise = self
                .profile_of(member)
                .map(|p| p.expertise)
                .unwrap_or_default();
            let mut top: Vec<(String, u32)> = topics
                .remove(&member)
                .unwrap_or_default()
                .into_iter()
                .collect();
            top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let (last_seen, connected) = self.last_seen(member);
            items.push(PersonInfo {
                member,
                name,
                org,
                partner,
                role,
                expertise,
                topics: top.into_iter().take(5).map(|(t, _)| t).collect(),
                record: recs.get(&member).copied().unwrap_or_default(),
                last_seen,
                connected,
                me: member == self.info.member,
            });
        }
        items.sort_by(|a, b| {
            gave(&b.record)
                .cmp(&gave(&a.record))
                .then(a.name.to_lowercase().cmp(&b.name.to_lowercase()))
        });
        Ok(Outcome::read(Response::People { space, items }))
    }

    /// The member named by id, prefix or name, among every member this home knows.
    fn any_member_ref(&mut self, name: &str) -> Result<MemberId, NodeError> {
        let lower = name.trim().to_ascii_lowercase();
        let known = self.known_members();
        let mut found = Vec::new();
        for m in known {
            let by_id = lower.len() >= 4 && m.to_string().starts_with(&lower);
            if by_id || self.chosen_name_of(m).0.eq_ignore_ascii_case(name.trim()) {
                found.push(m);
            }
        }
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(NodeError::NotFound(format!(
                "nobody called {name:?} in your spaces"
            ))),
            _ => Err(NodeError::NotFound(format!(
                "{name:?} names several members; give more of the member id"
            ))),
        }
    }

    fn space_records(
        &mut self,
        member: MemberId,
        contributions: &[(SpaceId, Contribution)],
    ) -> Vec<SpaceRecord> {
        let mut per: BTreeMap<SpaceId, Record> = BTreeMap::new();
        for (s, c) in contributions.iter().filter(|(_, c)| c.member == member) {
            per.entry(*s).or_default().add(c);
        }
        per.into_iter()
            .map(|(space, record)| SpaceRecord {
                space,
                name: self.space_name(space),
                record,
            })
            .collect()
    }

    pub(super) fn person(&mut self, member: &str) -> Result<Outcome, NodeError> {
        let member = self.any_member_ref(member)?;
        let all = self.contributions_of(None)?;
        let mine: Vec<&(SpaceId, Contribution)> =
            all.iter().filter(|(_, c)| c.member == member).collect();
        let record = records(mine.iter().map(|(_, c)| c))
            .remove(&member)
            .unwrap_or_default();
        let spaces = self.space_records(member, &all);
        let mut topics: BTreeMap<String, u32> = BTreeMap::new();
        for (_, c) in mine.iter().filter(|(_, c)| c.act.gives()) {
            for t in &c.tags {
                *topics.entry(t.clone()).or_default() += 1;
            }
        }
        let mut topics: Vec<(String, u32)> = topics.into_iter().collect();
        topics.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        topics.truncate(10);
        let mut latest: Vec<&(SpaceId, Contribution)> = mine.clone();
        latest.sort_by_key(|(_, c)| std::cmp::Reverse(c.at));
        let mut recent = Vec::new();
        for (space, c) in latest.into_iter().take(RECENT_MAX) {
            let title = self
                .store
                .get(c.doc)?
                .map(|l| l.summary.title)
                .unwrap_or_default();
            recent.push(ContributionView {
                act: c.act,
                doc: c.doc,
                title,
                space: *space,
                at: c.at,
                accepted: c.accepted,
            });
        }
        let profile = self.profile_of(member).unwrap_or_default();
        let (name, org) = self.name_of(member);
        let partner = self.is_partner(&org);
        let (last_seen, _) = self.last_seen(member);
        Ok(Outcome::read(Response::Person(PersonDetail {
            member,
            name,
            org,
            bio: profile.bio,
            expertise: profile.expertise,
            partner,
            record,
            spaces,
            topics,
            recent,
            last_seen,
        })))
    }

    pub(super) fn record(
        &mut self,
        member: Option<&str>,
        space: Option<&str>,
    ) -> Result<Outcome, NodeError> {
        let member = match member {
            Some(m) => self.any_member_ref(m)?,
            None => self.info.member,
        };
        let space = self.shared_space(space)?;
        let all = self.contributions_of(space)?;
        let record = records(
            all.iter()
                .filter(|(_, c)| c.member == member)
                .map(|(_, c)| c),
        )
        .remove(&member)
        .unwrap_or_default();
        let spaces = self.space_records(member, &all);
        let (name, _) = self.name_of(member);
        Ok(Outcome::read(Response::Record(RecordView {
            member,
            name,
            record,
            spaces,
        })))
    }

    pub(super) fn record_export(&mut self) -> Result<Outcome, NodeError> {
        let me = self.info.member;
        let all = self.contributions_of(None)?;
        let record = records(all.iter().filter(|(_, c)| c.member == me).map(|(_, c)| c))
            .remove(&me)
            .unwrap_or_default();
        let spaces = self.space_records(me, &all);
        let (name, org) = self.name_of(me);
        let mut statement = RecordStatement {
            tacit_record: RECORD_FORMAT,
            member: me,
            name,
            org,
            made_at: now_ms(),
            record,
            spaces,
            signature: String::new(),
        };
        let bytes = signed_bytes(&statement)?;
        statement.signature = hex::encode(self.key.sign(&bytes));
        let text = serde_json::to_string_pretty(&statement)
            .map_err(|e| NodeError::Internal(format!("writing the statement: {e}")))?;
        Ok(Outcome::read(Response::RecordStatement { statement: text }))
    }

    pub(super) fn space_health(&mut self, space: &str) -> Result<Outcome, NodeError> {
        let space = self
            .shared_space(Some(space))?
            .ok_or_else(|| NodeError::Internal("no space".into()))?;
        let contributions = self.contributions_of(Some(space))?;
        let members = self.members_in(Some(space));
        let h = health(contributions.iter().map(|(_, c)| c), &members, now_ms());
        let mut unanswered_titles = Vec::new();
        for (q, _) in &h.unanswered {
            unanswered_titles.push(
                self.store
                    .get(*q)?
                    .map(|l| l.summary.title)
                    .unwrap_or_default(),
            );
        }
        let top_giver_names = h
            .top_givers
            .iter()
            .map(|(m, _)| self.name_of(*m).0)
            .collect();
        Ok(Outcome::read(Response::Health(HealthView {
            space,
            health: h,
            unanswered_titles,
            top_giver_names,
        })))
    }

    /// The questions of a space as routing sees them, with who answered each first.
    fn asked_in(&mut self, space: SpaceId) -> Result<Vec<Asked>, NodeError> {
        let contributions = self.contributions_of(Some(space))?;
        let mut first: HashMap<DocId, i64> = HashMap::new();
        for (_, c) in contributions.iter().filter(|(_, c)| c.act == Act::Answered) {
            let e = first.entry(c.doc).or_insert(c.at);
            *e = (*e).min(c.at);
        }
        Ok(contributions
            .iter()
            .filter(|(_, c)| c.act == Act::Asked)
            .map(|(_, c)| Asked {
                id: c.doc,
                asker: c.member,
                topic: Topic {
                    tags: c.tags.clone(),
                    words: c.words.clone(),
                },
                created_at: c.at,
                first_answer_at: first.get(&c.doc).copied(),
            })
            .collect())
    }

    /// Which members each recent question of `space` is offered to, as of now.
    pub(super) fn routes(
        &mut self,
        space: SpaceId,
    ) -> Result<BTreeMap<DocId, Vec<tacit_core::people::Route>>, NodeError> {
        let asked = self.asked_in(space)?;
        let index = self.expert_index(Some(space))?;
        // Those who can answer: owners and editors.
        let eligible: BTreeSet<MemberId> = self
            .spaces
            .get(&space)
            .map(|s| {
                s.membership
                    .members()
                    .iter()
                    .filter(|(_, m)| m.role.can_write())
                    .map(|(id, _)| *id)
                    .collect()
            })
            .unwrap_or_default();
        // Each member's own limit, from their signed profile.
        let limits: HashMap<MemberId, u32> = eligible
            .iter()
            .filter_map(|m| Some((*m, self.profile_of(*m)?.questions_per_day?)))
            .collect();
        let mut ranked = self.people.ranked.remove(&space).unwrap_or_default();
        let routes = route_cached(
            &asked,
            &index,
            &eligible,
            &limits,
            RoutingRules::default(),
            now_ms(),
            &mut ranked,
        );
        self.people.ranked.insert(space, ranked);
        Ok(routes)
    }

    pub(super) fn question_routes(&mut self, question: &str) -> Result<Outcome, NodeError> {
        let q = self.resolve(question, Kind::Question)?;
        let routes = if q.space == self.info.personal {
            Vec::new()
        } else {
            self.routes(q.space)?.remove(&q.id).unwrap_or_default()
        };
        let items = routes
            .into_iter()
            .map(|r| crate::api::RouteInfo {
                name: self.name_of(r.member).0,
                member: r.member,
                round: r.round,
                at: r.at,
            })
            .collect();
        Ok(Outcome::read(Response::Routes {
            question: q.id,
            items,
        }))
    }

    pub(super) fn inbox(&mut self) -> Result<Outcome, NodeError> {
        let me = self.info.member;
        let now = now_ms();
        let follows: HashSet<String> = self.store.follows()?.into_iter().collect();
        let seen: HashMap<String, i64> = self.store.inbox_seen()?.into_iter().collect();
        let spaces: Vec<SpaceId> = self
            .spaces
            .values()
            .filter(|s| !s.legacy && s.membership.is_member(&me))
            .map(|s| s.row.id)
            .collect();
        let mut raw: Vec<RawInboxItem> = Vec::new();
        for space in spaces {
            let routes = self.routes(space)?;
            let contributions = self.contributions_of(Some(space))?;
            let asked: HashMap<DocId, &Contribution> = contributions
                .iter()
                .filter(|(_, c)| c.act == Act::Asked)
                .map(|(_, c)| (c.doc, c))
                .collect();
            let answered: HashSet<DocId> = contributions
                .iter()
                .filter(|(_, c)| c.act == Act::Answered)
                .map(|(_, c)| c.doc)
                .collect();
            let index = self.expert_index(Some(space))?;
            let mut listed: HashSet<DocId> = HashSet::new();
            for (q, rs) in &routes {
                let Some(r) = rs.iter().find(|r| r.member == me) else {
                    continue;
                };
                let Some(ask) = asked.get(q) else { continue };
                if answered.contains(q) || ask.member == me {
                    continue;
                }
                let topic = Topic {
                    tags: ask.tags.clone(),
                    words: ask.words.clone(),
                };
                let only_me = BTreeSet::from([me]);
                let why = index
                    .rank(&topic, now, Some(&only_me))
                    .first()
                    .and_then(|e| e.reasons.first().map(|r| r.text.clone()))
                    .map(|t| format!("asked of you: {t}"))
                    .unwrap_or_else(|| "asked of you".into());
                listed.insert(*q);
                raw.push((
                    format!("routed:{q}"),
                    InboxKind::Routed,
                    space,
                    *q,
                    None,
                    ask.member,
                    r.at,
                    why,
                ));
            }
            for (q, ask) in &asked {
                if ask.member == me
                    || answered.contains(q)
                    || listed.contains(q)
                    || now.saturating_sub(ask.at) > RoutingRules::default().window_days * DAY_MS
                {
                    continue;
                }
                if let Some(tag) = ask.tags.iter().find(|t| follows.contains(*t)) {
                    raw.push((
                        format!("followed:{q}"),
                        InboxKind::Followed,
                        space,
                        *q,
                        None,
                        ask.member,
                        ask.at,
                        format!("on #{tag}, which you follow"),
                    ));
                }
            }
            let stale_after = i64::from(self.stale_after_days(space)) * DAY_MS;
            let mut fresh: HashMap<(DocId, tacit_core::AnswerId), i64> = HashMap::new();
            for (_, c) in contributions.iter() {
                if let (Act::Confirmed | Act::Answered, Some(a)) = (c.act, c.answer) {
                    let e = fresh.entry((c.doc, a)).or_insert(c.at);
                    *e = (*e).max(c.at);
                }
            }
            for (_, c) in contributions.iter().filter(|(_, c)| c.act == Act::Answered) {
                let Some(a) = c.answer else { continue };
                if asked.get(&c.doc).is_some_and(|q| q.member == me)
                    && c.member != me
                    && now.saturating_sub(c.at) <= INBOX_ANSWERS_MS
                {
                    raw.push((
                        format!("answer:{}:{a}", c.doc),
                        InboxKind::Answer,
                        space,
                        c.doc,
                        Some(a),
                        c.member,
                        c.at,
                        "answered your question".into(),
                    ));
                }
                let since = fresh.get(&(c.doc, a)).copied().unwrap_or(c.at);
                if c.member == me && now.saturating_sub(since) > stale_after {
                    raw.push((
                        format!("stale:{}:{a}", c.doc),
                        InboxKind::Stale,
                        space,
                        c.doc,
                        Some(a),
                        me,
                        since + stale_after,
                        format!(
                            "your answer was last confirmed {} days ago: is it still right?",
                            now.saturating_sub(since) / DAY_MS
                        ),
                    ));
                }
            }
        }
        raw.sort_by(|a, b| b.6.cmp(&a.6).then(a.0.cmp(&b.0)));
        raw.dedup_by(|a, b| a.0 == b.0);
        // Another member's items of one kind beyond their share are left out (the newest
        // kept), so that one member asking or answering hundreds of times cannot push everyone
        // else's out. Offers are bounded by the daily limit already.
        let mut per_member: HashMap<(MemberId, InboxKind), usize> = HashMap::new();
        raw.retain(|item| {
            if item.5 == me || item.1 == InboxKind::Routed {
                return true;
            }
            let n = per_member.entry((item.5, item.1)).or_insert(0);
            *n += 1;
            *n <= INBOX_PER_MEMBER
        });
        raw.truncate(INBOX_MAX);
        let mut items = Vec::with_capacity(raw.len());
        for (key, kind, space, question, answer, by, at, reason) in raw {
            let title = self
                .store
                .get(question)?
                .map(|l| l.summary.title)
                .unwrap_or_default();
            let by_name = self.name_of(by).0;
            let seen = seen.contains_key(&key);
            items.push(InboxItem {
                key,
                kind,
                question,
                title,
                space,
                answer,
                by,
                by_name,
                at,
                reason,
                seen,
            });
        }
        let unread = u32::try_from(items.iter().filter(|i| !i.seen).count()).unwrap_or(u32::MAX);
        Ok(Outcome::read(Response::Inbox { items, unread }))
    }

    pub(super) fn inbox_seen(&mut self, keys: &[String]) -> Result<Outcome, NodeError> {
        self.store.mark_seen(keys, now_ms())?;
        self.announce(crate::api::Event::InboxChanged);
        Ok(Outcome::read(Response::Following {
            tags: self.store.follows()?,
        }))
    }

    pub(super) fn follow(&mut self, tag: &str, on: bool) -> Result<Outcome, NodeError> {
        let tag = tacit_core::normalize_tag(tag)?;
        self.store.set_follow(&tag, on)?;
        self.announce(crate::api::Event::InboxChanged);
        Ok(Outcome::read(Response::Following {
            tags: self.store.follows()?,
        }))
    }

    pub(super) fn following(&self) -> Result<Outcome, NodeError> {
        Ok(Outcome::read(Response::Following {
            tags: self.store.follows()?,
        }))
    }

    /// Answers a question with a note of this member's: the answer names the note, and the
    /// note (when this member may write it) names the answer.
    pub(super) fn answer_with_note(
        &mut self,
        question: &str,
        note: &str,
    ) -> Result<Outcome, NodeError> {
        let q = self.resolve(question, Kind::Question)?;
        let n = self.resolve(note, Kind::Note)?;
        let view = self.doc(n.id)?.note()?;
        let body = if view.body.trim().is_empty() {
            view.title.clone()
        } else {
            view.body.clone()
        };
        let mut answer = None;
        let mut out = self.change(&q, |doc, e| {
            answer = Some(doc.add_answer_from(e, &body, Some(n.id))?);
            Ok(true)
        })?;
        let Some(answer) = answer else {
            return Err(NodeError::Internal("no answer was written".into()));
        };
        if self.check_write(n.space).is_ok() {
            let link = self.change(&n, |doc, e| doc.link_answer(e, q.id, answer).map(|()| true))?;
            out.writes.extend(link.writes);
            out.events.extend(link.events);
            out.pushes.extend(link.pushes);
        }
        out.answer = Response::Answered {
            question: q.id,
            id: answer,
        };
        Ok(out)
    }

    /// Makes a note of an answer in `space`: titled by the question, the answer's text as
    /// its body, naming the answer (and named by it when the answer is this member's).
    pub(super) fn share_as_note(
        &mut self,
        question: &str,
        answer: &str,
        space: Option<&str>,
    ) -> Result<Outcome, NodeError> {
        let q = self.resolve(question, Kind::Question)?;
        let doc = self.doc(q.id)?;
        let a = doc.resolve_answer(answer)?;
        let view = doc.question()?;
        let ans = view
            .answers
            .iter()
            .find(|x| x.id == a)
            .ok_or_else(|| tacit_core::CoreError::NoSuchAnswer(answer.to_owned()))?
            .clone();
        let space = self.space_ref(space)?;
        self.check_write(space)?;
        let under = self.under(space);
        let edit = Edit {
            under: &under,
            ..self.edit()
        };
        let mut note = Doc::new_note(
            DocId::random(),
            edit,
            Draft {
                title: view.title.clone(),
                body: ans.body.clone(),
                tags: view.tags.clone(),
                aliases: Vec::new(),
            },
        )?;
        note.set_from_answer(edit, q.id, a)?;
        let note_id = note.id();
        let mut out = self.created(note, space)?;
        if ans.author == self.info.member && self.check_write(q.space).is_ok() {
            let mark = self.change(&q, |doc, e| doc.mark_shared(e, a, note_id).map(|()| true))?;
            out.writes.extend(mark.writes);
            out.events.extend(mark.events);
            out.pushes.extend(mark.pushes);
        }
        Ok(out)
    }

    pub(super) fn confirm(&mut self, question: &str, answer: &str) -> Result<Outcome, NodeError> {
        let q: Listed = self.resolve(question, Kind::Question)?;
        self.change(&q, |doc, e| {
            let a = doc.resolve_answer(answer)?;
            doc.confirm(e, a).map(|()| true)
        })
    }
}

/// How much a member gave, for ordering a people page.
fn gave(r: &Record) -> u32 {
    r.answers * 3 + r.accepted * 2 + r.notes + r.thanks_given
}

/// The bytes a record statement's signature covers: its JSON without the signature.
fn signed_bytes(statement: &RecordStatement) -> Result<Vec<u8>, NodeError> {
    let mut unsigned = statement.clone();
    unsigned.signature = String::new();
    let json = serde_json::to_vec(&unsigned)
        .map_err(|e| NodeError::Internal(format!("writing the statement: {e}")))?;
    let mut bytes = RECORD_DOMAIN.to_vec();
    bytes.extend(json);
    Ok(bytes)
}

/// Checks a record statement: it parses, and its member's key signed it.
fn verify_record(text: &str) -> Result<RecordStatement, NodeError> {
    let statement: RecordStatement = serde_json::from_str(text)
        .map_err(|e| NodeError::Invalid(format!("this is not a Tacit record statement: {e}")))?;
    if statement.tacit_record != RECORD_FORMAT {
        return Err(NodeError::Invalid(format!(
            "record statement format {} is not one this Tacit reads",
            statement.tacit_record
        )));
    }
    let sig = hex::decode(&statement.signature)
        .ok()
        .and_then(|s| <[u8; 64]>::try_from(s).ok())
        .ok_or_else(|| NodeError::Invalid("the statement's signature is malformed".into()))?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(statement.member.as_bytes())
        .map_err(|_| NodeError::Invalid("the statement's member is not a key".into()))?;
    key.verify_strict(
        &signed_bytes(&statement)?,
        &ed25519_dalek::Signature::from_bytes(&sig),
    )
    .map_err(|_| {
        NodeError::Invalid(
            "the signature does not match: the statement was changed, or not signed by its member"
                .into(),
        )
    })?;
    Ok(statement)
}
