//! How replies are printed: text for people, or JSON with stable field names for scripts.

use std::io::Write;

use anyhow::Result;
use serde_json::json;
use tacit_node::core::diff::DiffSide;
use tacit_node::core::{Kind, MemberId, VersionKind};
use tacit_node::{
    ListItem, NetStatus, PeerInfo, Reachability, RelayInfo, RelaySource, RelayState, Response,
    SyncState, TrashItem, VersionDetail, VersionInfo, Via,
};

use crate::shown::{self, Shown};

/// Prints `resp` to standard output. `me` marks this member's answers in a question.
pub fn print(resp: &Response, json: bool, me: Option<MemberId>) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        let value = match resp {
            Response::Init(r) => serde_json::to_value(r)?,
            Response::Identity(i) => serde_json::to_value(i)?,
            Response::Created { id } => json!({ "id": id }),
            Response::Answered { question, id } => json!({ "id": id, "question": question }),
            Response::List { items } => serde_json::to_value(items)?,
            Response::Note(n) => serde_json::to_value(n)?,
            Response::Question(q) => serde_json::to_value(q)?,
            Response::Done { id, changed, .. } => json!({ "id": id, "changed": changed }),
            Response::Status(s) => serde_json::to_value(s)?,
            Response::SpaceCreated { id, name } => json!({ "id": id, "name": name }),
            Response::Spaces { items } => serde_json::to_value(items)?,
            Response::Space(d) => serde_json::to_value(d)?,
            Response::Invites { items, .. } => serde_json::to_value(items)?,
            Response::Ticket { ticket, expires_at } => {
                json!({ "ticket": ticket, "expires_at": expires_at })
            }
            Response::Connected { peer } => json!({ "peer": peer }),
            Response::Peers { items } => serde_json::to_value(items)?,
            Response::Network(n) => serde_json::to_value(n)?,
            Response::Hits { items, .. } => serde_json::to_value(
                items
                    .iter()
                    .map(|h| {
                        json!({
                            "id": h.id,
                            "kind": h.kind,
                            "title": h.title,
                            "space": h.space,
                            "space_name": h.space_name,
                            "snippet": h.snippet,
                            "score": h.score,
                            "tags": h.tags,
                            "updated_at": h.updated_at,
                            "title_marks": h.title_marks,
                            "snippet_marks": h.snippet_marks,
                        })
                    })
                    .collect::<Vec<_>>(),
            )?,
            Response::Links(l) => serde_json::to_value(l)?,
            Response::Experts { items } => serde_json::to_value(items)?,
            Response::Routes { items, .. } => serde_json::to_value(items)?,
            Response::People { items, .. } => serde_json::to_value(items)?,
            Response::Person(p) => serde_json::to_value(p)?,
            Response::Inbox { items, unread } => json!({ "items": items, "unread": unread }),
            Response::Following { tags } => serde_json::to_value(tags)?,
            Response::Record(r) => serde_json::to_value(r)?,
            Response::RecordStatement { statement } => serde_json::from_str(statement)?,
            Response::RecordVerified(r) => serde_json::to_value(r)?,
            Response::Health(h) => serde_json::to_value(h)?,
            Response::Digest(d) => serde_json::to_value(d)?,
            Response::History { items, .. } => serde_json::to_value(items)?,
            Response::Version(v) => serde_json::to_value(v)?,
            Response::Trash { items } => serde_json::to_value(items)?,
            Response::Attached {
                id,
                attachment,
                reference,
                changed,
            } => json!({
                "id": id,
                "name": attachment.name,
                "hash": attachment.hash,
                "size": attachment.size,
                "reference": reference,
                "changed": changed,
            }),
            Response::Attachments { items, .. } => serde_json::to_value(items)?,
            Response::AttachmentLimits(l) => serde_json::to_value(l)?,
            other => serde_json::to_value(other)?,
        };
        writeln!(out, "{}", shown::json(&value)?)?;
        return Ok(());
    }
    let mut out = Shown::new(out);
    text(&mut out, resp, me)?;
    out.flush()?;
    Ok(())
}

fn text(out: &mut impl Write, resp: &Response, me: Option<MemberId>) -> std::io::Result<()> {
    match resp {
        Response::Init(r) if r.created => {
            writeln!(out, "Initialised a Tacit home at {}", r.home)?;
            writeln!(out, "member: {}", r.member)?;
        }
        Response::Init(r) => {
            writeln!(
                out,
                "The Tacit home at {} is already initialised; nothing changed.",
                r.home
            )?;
            writeln!(out, "member: {}", r.member)?;
        }
        Response::Identity(i) => {
            let p = &i.profile;
            let name = if p.name.is_empty() {
                "(no name)"
            } else {
                &p.name
            };
            if p.org.is_empty() {
                writeln!(out, "{name}")?;
            } else {
                writeln!(out, "{name} · {}", p.org)?;
            }
            writeln!(out, "member: {}", i.member)?;
            if !p.expertise.is_empty() {
                writeln!(out, "expertise: {}", hashtags(&p.expertise))?;
            }
            if let Some(n) = p.questions_per_day {
                writeln!(out, "routed questions a day: at most {n}")?;
            }
            if !p.bio.is_empty() {
                writeln!(out, "\n{}", p.bio.trim_end())?;
            }
        }
        Response::Created { id } => writeln!(out, "{id}")?,
        Response::Answered { id, .. } => writeln!(out, "{id}")?,
        Response::List { items } => list(out, items)?,
        Response::Note(n) => {
            writeln!(out, "# {}", n.title)?;
            let mut meta = vec![n.id.to_string()];
            let tags = n.all_tags();
            if !tags.is_empty() {
                meta.push(hashtags(&tags));
            }
            if !n.aliases.is_empty() {
                meta.push(format!("also: {}", n.aliases.join(", ")));
            }
            meta.push(format!("edited {}", when(n.updated_at)));
            writeln!(out, "{}", meta.join(" · "))?;
            if !n.body.is_empty() {
                writeln!(out)?;
                write!(out, "{}", n.body)?;
                if !n.body.ends_with('\n') {
                    writeln!(out)?;
                }
            }
        }
        Response::Question(q) => {
            writeln!(out, "? {}", q.title)?;
            let mut meta = vec![q.id.to_string(), format!("asked by {}", who(q.author, me))];
            if !q.tags.is_empty() {
                meta.push(hashtags(&q.tags));
            }
            meta.push(when(q.created_at));
            writeln!(out, "{}", meta.join(" · "))?;
            if !q.body.is_empty() {
                writeln!(out, "\n{}", q.body.trim_end())?;
            }
            let n = q.answers.len();
            writeln!(
                out,
                "\n{n} answer{}{}",
                if n == 1 { "" } else { "s" },
                if q.accepted.is_some() {
                    ", one accepted"
                } else {
                    ""
                }
            )?;
            for a in &q.answers {
                let mark = if a.accepted { "✓ accepted" } else { "answer" };
                let mut meta = vec![
                    format!("{mark} {}", a.id.short()),
                    format!("by {}", who(a.author, me)),
                    when(a.created_at),
                ];
                if !a.thanked_by.is_empty() {
                    meta.push(format!("{} thanks", a.thanked_by.len()));
                }
                if a.score != 0 {
                    meta.push(format!("score {}", a.score));
                }
                writeln!(out, "\n── {}", meta.join(" · "))?;
                writeln!(out, "{}", a.body.trim_end())?;
            }
        }
        Response::History { items, .. } => history(out, items)?,
        Response::Version(v) => version(out, v)?,
        Response::Trash { items } => trash(out, items)?,
        Response::Done { id, changed, .. } => {
            if *changed {
                writeln!(out, "{id}")?;
            } else {
                writeln!(out, "{id} (unchanged)")?;
            }
        }
        Response::Status(s) => {
            writeln!(out, "home:      {}", s.home)?;
            writeln!(out, "member:    {}", s.member)?;
            let how = if s.serving {
                format!("serving (pid {})", s.pid)
            } else {
                "not running (opened by this command)".to_owned()
            };
            writeln!(out, "node:      {how}")?;
            writeln!(out, "notes:     {}", s.notes)?;
            writeln!(out, "questions: {}", s.questions)?;
            writeln!(out, "database:  {} bytes", s.db_bytes)?;
            let search = &s.search;
            let state = if search.rebuilding {
                format!("rebuilding — {} documents indexed so far", search.docs)
            } else if search.pending > 0 {
                format!(
                    "{} documents indexed, {} changes on the way",
                    search.docs, search.pending
                )
            } else {
                format!("{} documents indexed", search.docs)
            };
            writeln!(out, "search:    {state}")?;
            writeln!(out, "peer:      {}", s.peer_id)?;
            if s.listen_addrs.is_empty() {
                writeln!(out, "network:   off")?;
            }
            for a in &s.listen_addrs {
                writeln!(out, "listening: {a}")?;
            }
            if !s.listen_addrs.is_empty() {
                network(out, &s.network)?;
            }
            writeln!(out, "peers:     {} connected", s.peers.len())?;
            for p in &s.peers {
                writeln!(out, "peer:      {}  {}", p.peer, via_words(p))?;
            }
            for sp in s.spaces.iter().filter(|sp| !sp.personal) {
                writeln!(
                    out,
                    "space:     {} {} — {}, {} of {} members connected",
                    sp.id.short(),
                    sp.name,
                    sync_word(sp.sync),
                    sp.connected,
                    sp.members.saturating_sub(1)
                )?;
            }
        }
        Response::SpaceCreated { id, .. } => writeln!(out, "{id}")?,
        Response::Spaces { items } => {
            for sp in items {
                writeln!(
                    out,
                    "{}  {:<24} {:<7} {:>3} member{}  {}",
                    sp.id.short(),
                    sp.name,
                    sp.role.as_str(),
                    sp.members,
                    if sp.members == 1 { " " } else { "s" },
                    sync_word(sp.sync)
                )?;
            }
        }
        Response::Space(d) => {
            let i = &d.info;
            writeln!(out, "{} · {}", i.name, i.id)?;
            writeln!(
                out,
                "you are {} · {} members · {}",
                i.role,
                i.members,
                sync_word(i.sync)
            )?;
            writeln!(
                out,
                "answers marked possibly stale after {} days unconfirmed",
                i.stale_after_days
            )?;
            writeln!(out)?;
            for m in &d.members {
                let name = if m.name.is_empty() {
                    "(no name)"
                } else {
                    &m.name
                };
                let org = if m.org.is_empty() {
                    String::new()
                } else {
                    format!(" · {}", m.org)
                };
                let flags = match (m.me, m.via, &m.why) {
                    (true, _, _) => "  (you)".to_owned(),
                    (false, Some(tacit_node::Via::Relayed), _) => {
                        "  (connected through a relay)".to_owned()
                    }
                    (false, Some(_), _) => "  (connected directly)".to_owned(),
                    (false, None, Some(why)) => format!("  — {why}"),
                    (false, None, None) if m.connected => "  (connected)".to_owned(),
                    _ => String::new(),
                };
                writeln!(
                    out,
                    "{:<7} {}  {name}{org}{flags}",
                    m.role.as_str(),
                    m.member.short()
                )?;
            }
            if !d.removed.is_empty() {
                writeln!(
                    out,
                    "\nremoved: {}",
                    d.removed
                        .iter()
                        .map(|m| m.short())
                        .collect::<Vec<_>>()
                        .join(", ")
                )?;
            }
        }
        Response::Invites { items, .. } => {
            if items.is_empty() {
                writeln!(out, "no open invitations")?;
            }
            for i in items {
                let expiry = i
                    .expires_at
                    .map(|at| format!("until {}", when(at)))
                    .unwrap_or_else(|| "no expiry".into());
                let uses = match i.uses_left {
                    Some(n) => format!("{n} uses left"),
                    None => "any number of uses".into(),
                };
                let by = if i.by_name.is_empty() {
                    i.by.short()
                } else {
                    i.by_name.clone()
                };
                writeln!(
                    out,
                    "{}  {:<6}  {expiry}  {uses}  by {by}",
                    &i.id.to_string()[..12],
                    i.role.as_str()
                )?;
            }
        }
        Response::Ticket { ticket, expires_at } => {
            match expires_at {
                Some(at) => writeln!(out, "Invitation ticket, valid until {}:", when(*at))?,
                None => writeln!(out, "Invitation ticket (does not expire):")?,
            }
            writeln!(out, "{ticket}")?;
        }
        Response::Connected { peer } => writeln!(out, "{peer}")?,
        Response::Peers { items } => {
            if items.is_empty() {
                writeln!(out, "no peers connected")?;
            }
            for p in items {
                let member = p.member.map(|m| m.short()).unwrap_or_else(|| "-".into());
                writeln!(
                    out,
                    "{}  member {member}  {} shared space{}  {}  {}",
                    p.peer,
                    p.spaces.len(),
                    if p.spaces.len() == 1 { "" } else { "s" },
                    via_words(p),
                    p.addrs.join(" ")
                )?;
            }
        }
        Response::Network(n) => {
            network(out, n)?;
            if n.relays.is_empty() {
                writeln!(
                    out,
                    "no relays: add one with `tacit relay add /ip4/…/tcp/…/p2p/PEER_ID` (members behind \
                     other NATs reach this node through it)"
                )?;
            }
        }
        Response::Hits { items, total } => hits(out, items, *total)?,
        Response::Links(l) => {
            let row = |out: &mut dyn Write, d: &tacit_node::LinkedDoc| {
                let kind = if d.kind == tacit_node::core::Kind::Question {
                    "? "
                } else {
                    ""
                };
                writeln!(out, "  {}  {kind}{}", d.id.short(), d.title)
            };
            writeln!(out, "Links to:")?;
            if l.outgoing.is_empty() && l.unresolved.is_empty() {
                writeln!(out, "  (none)")?;
            }
            for d in &l.outgoing {
                row(out, d)?;
            }
            for t in &l.unresolved {
                writeln!(out, "  -         [[{t}]] (no such note)")?;
            }
            writeln!(out, "Linked from:")?;
            if l.backlinks.is_empty() {
                writeln!(out, "  (none)")?;
            }
            for d in &l.backlinks {
                row(out, d)?;
            }
        }
        Response::Experts { items } => {
            if items.is_empty() {
                writeln!(out, "nobody's work shows it yet")?;
            }
            for (i, e) in items.iter().enumerate() {
                let org = org_of(&e.org, e.partner);
                writeln!(out, "{}. {}{org}", i + 1, e.name)?;
                for r in &e.reasons {
                    writeln!(out, "     {}", r.text)?;
                }
            }
        }
        Response::People { items, .. } => {
            for p in items {
                let org = org_of(&p.org, p.partner);
                let seen = match (p.me, p.connected, p.last_seen) {
                    (true, _, _) => "you".to_owned(),
                    (_, true, _) => "connected".to_owned(),
                    (_, _, Some(at)) => format!("last seen {}", when(at)),
                    _ => "not seen".to_owned(),
                };
                writeln!(out, "{}{org} · {} · {seen}", p.name, p.role)?;
                writeln!(out, "    {}", record_line(&p.record))?;
                let mut about: Vec<String> = p.expertise.iter().map(|t| format!("#{t}")).collect();
                for t in &p.topics {
                    if !p.expertise.contains(t) {
                        about.push(format!("#{t}"));
                    }
                }
                if !about.is_empty() {
                    writeln!(out, "    knows about {}", about.join(" "))?;
                }
            }
        }
        Response::Person(p) => {
            writeln!(
                out,
                "{}{} · {}",
                p.name,
                org_of(&p.org, p.partner),
                p.member
            )?;
            if !p.bio.is_empty() {
                writeln!(out, "{}", p.bio)?;
            }
            if !p.expertise.is_empty() {
                writeln!(out, "expertise: {}", hashtags(&p.expertise))?;
            }
            writeln!(out, "{}", record_line(&p.record))?;
            for s in &p.spaces {
                writeln!(out, "  in {}: {}", s.name, record_line(&s.record))?;
            }
            if !p.topics.is_empty() {
                let t: Vec<String> = p
                    .topics
                    .iter()
                    .map(|(t, n)| format!("#{t} ({n})"))
                    .collect();
                writeln!(out, "gives most on {}", t.join(", "))?;
            }
            if !p.recent.is_empty() {
                writeln!(out)?;
            }
            for c in &p.recent {
                writeln!(
                    out,
                    "{}  {:<9} {}",
                    when(c.at),
                    act_word(c.act, c.accepted),
                    c.title
                )?;
            }
        }
        Response::Inbox { items, unread } => {
            if items.is_empty() {
                writeln!(out, "nothing in your inbox")?;
            } else {
                writeln!(out, "{unread} new")?;
            }
            for i in items {
                let mark = if i.seen { " " } else { "•" };
                let kind = match i.kind {
                    tacit_node::InboxKind::Routed => "asked of you",
                    tacit_node::InboxKind::Answer => "answer",
                    tacit_node::InboxKind::Followed => "followed",
                    tacit_node::InboxKind::Stale => "confirm",
                };
                writeln!(out, "{mark} {}  {:<12}  {}", when(i.at), kind, i.title)?;
                writeln!(
                    out,
                    "    {} · {} · {}",
                    i.reason,
                    i.by_name,
                    &i.question.to_string()[..8]
                )?;
            }
        }
        Response::Routes { items, .. } => {
            if items.is_empty() {
                writeln!(out, "offered to nobody (nobody's record matches it yet)")?;
            }
            for r in items {
                writeln!(out, "round {}  {}  {}", r.round, when(r.at), r.name)?;
            }
        }
        Response::Following { tags } => {
            if tags.is_empty() {
                writeln!(out, "you follow no tag")?;
            } else {
                writeln!(out, "{}", hashtags(tags))?;
            }
        }
        Response::Record(r) => {
            writeln!(out, "{}: {}", r.name, record_line(&r.record))?;
            for s in &r.spaces {
                writeln!(out, "  in {}: {}", s.name, record_line(&s.record))?;
            }
        }
        Response::RecordStatement { statement } => writeln!(out, "{statement}")?,
        Response::RecordVerified(r) => {
            writeln!(
                out,
                "valid: signed by {} ({}) on {}",
                r.name,
                r.member,
                when(r.made_at)
            )?;
            writeln!(out, "{}", record_line(&r.record))?;
            for s in &r.spaces {
                writeln!(out, "  in {}: {}", s.name, record_line(&s.record))?;
            }
        }
        Response::Health(h) => {
            let x = &h.health;
            writeln!(
                out,
                "{} of {} members gave in the last 30 days ({:.0}%; the 90-9-1 rule of thumb: about 10%)",
                x.givers_30d,
                x.members,
                x.giver_share * 100.0
            )?;
            let median = x
                .median_first_answer_ms
                .map(humanize)
                .unwrap_or_else(|| "no answer yet".into());
            writeln!(out, "median time to a first answer: {median}")?;
            writeln!(
                out,
                "questions answered: {} of {} ({:.0}%)",
                x.answered,
                x.questions,
                x.answered_share * 100.0
            )?;
            if !x.unanswered.is_empty() {
                writeln!(out, "waiting for an answer, oldest first:")?;
                for ((q, at), title) in x.unanswered.iter().zip(&h.unanswered_titles).take(10) {
                    writeln!(out, "  {}  {}  {title}", when(*at), &q.to_string()[..8])?;
                }
            }
            if !x.top_givers.is_empty() {
                let top: Vec<String> = x
                    .top_givers
                    .iter()
                    .zip(&h.top_giver_names)
                    .map(|((_, n), name)| format!("{name} ({n})"))
                    .collect();
                writeln!(out, "top givers this month: {}", top.join(", "))?;
            }
        }
        Response::Digest(d) => {
            writeln!(out, "{} documents, digest {}", d.docs.len(), d.digest)?;
        }
        Response::Attached { reference, .. } => writeln!(out, "{reference}")?,
        Response::Attachments { items, .. } => {
            if items.is_empty() {
                writeln!(out, "no attachments")?;
            }
            for a in items {
                let here = if a.present { "here" } else { "not here yet" };
                writeln!(
                    out,
                    "{}  {} bytes  {}  {here}",
                    a.name,
                    a.size,
                    a.hash.get(..12).unwrap_or(&a.hash)
                )?;
            }
        }
        Response::AttachmentLimits(l) => {
            writeln!(out, "largest attachment       {}", size_words(l.max_file))?;
            writeln!(
                out,
                "a space's attachments    {}",
                size_words(l.space_quota)
            )?;
            if l.auto_fetch == 0 {
                writeln!(out, "fetched with their note  none (each when asked for)")?;
            } else {
                writeln!(
                    out,
                    "fetched with their note  up to {} (larger ones when asked for)",
                    size_words(l.auto_fetch)
                )?;
            }
        }
        other => writeln!(out, "{other:?}")?,
    }
    Ok(())
}

/// A size in the largest unit of 1024 it is a whole number of (`100 MiB`, `1536 KiB`).
fn size_words(bytes: u64) -> String {
    for (shift, unit) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if bytes >= 1 << shift && bytes.is_multiple_of(1 << shift) {
            return format!("{} {unit}", bytes >> shift);
        }
    }
    format!("{bytes} bytes")
}

/// How a connected peer is reached, in words.
pub fn via_words(p: &PeerInfo) -> String {
    match (p.via, &p.relay) {
        (Via::Direct, _) => "direct".to_owned(),
        (Via::Relayed, Some(relay)) => format!("relayed through {relay}"),
        (Via::Relayed, None) => "relayed".to_owned(),
    }
}

/// Reachability, external addresses and relays, one line each.
fn network(out: &mut impl Write, n: &NetStatus) -> std::io::Result<()> {
    let reach = match n.reachability {
        Reachability::Public => "public (other nodes can dial this one directly)",
        Reachability::Private => {
            "private (behind a NAT or firewall: members elsewhere reach this node through a relay)"
        }
        Reachability::Unknown => "unknown (not probed yet: needs a connected peer or a relay)",
    };
    writeln!(out, "reachable: {reach}")?;
    for a in &n.external_addrs {
        writeln!(out, "external:  {a}")?;
    }
    if n.relay_server {
        writeln!(out, "relay:     serving as a relay for others")?;
    }
    for r in &n.relays {
        writeln!(out, "relay:     {}", relay_words(r))?;
    }
    Ok(())
}

/// One relay and where its reservation stands, in words.
pub fn relay_words(r: &RelayInfo) -> String {
    let from = match r.source {
        RelaySource::Configured => "",
        RelaySource::Member => " (a member of your spaces)",
    };
    let detail = r.detail.as_deref().unwrap_or("");
    let state = match r.state {
        RelayState::Offline => "kept; used when `tacit serve` or the app runs".to_owned(),
        RelayState::Pending => "asking for a reservation".to_owned(),
        RelayState::Reserved => format!("reserved: members reach this node at {detail}"),
        RelayState::Refused => format!("refused: {detail}"),
        RelayState::Unreachable => format!("unreachable: {detail}"),
        RelayState::NotNeeded => "not needed: this node is publicly reachable".to_owned(),
    };
    format!("{}{from} — {state}", r.addr)
}

/// Search hits: id, kind, title and space on one line, the snippet under it with the matched
/// words in bold on a terminal (between `*` otherwise).
fn hits(out: &mut impl Write, items: &[tacit_node::Hit], total: u32) -> std::io::Result<()> {
    use std::io::IsTerminal;
    if items.is_empty() {
        return writeln!(out, "no matches");
    }
    let tty = std::io::stdout().is_terminal();
    let (on, off) = if tty {
        ("\x1b[1m", "\x1b[0m")
    } else {
        ("*", "*")
    };
    for h in items {
        let kind = if h.kind == tacit_node::core::Kind::Question {
            "? "
        } else {
            ""
        };
        writeln!(
            out,
            "{}  {kind}{}  [{}]",
            h.id.short(),
            marked(&h.title, &h.title_marks, on, off),
            h.space_name
        )?;
        if !h.snippet.is_empty() {
            writeln!(
                out,
                "          {}",
                marked(&h.snippet, &h.snippet_marks, on, off)
            )?;
        }
    }
    if total as usize > items.len() {
        writeln!(out, "({} of {total} matches)", items.len())?;
    }
    Ok(())
}

/// `text` with each marked range (in characters) between `on` and `off`.
fn marked(text: &str, marks: &[(u32, u32)], on: &str, off: &str) -> String {
    let mut out = String::with_capacity(text.len() + marks.len() * 8);
    for (i, c) in text.chars().enumerate() {
        let i = u32::try_from(i).unwrap_or(u32::MAX);
        if marks.iter().any(|&(a, _)| a == i) {
            out.push_str(on);
        }
        out.push(c);
        if marks.iter().any(|&(_, b)| b == i + 1) {
            out.push_str(off);
        }
    }
    out
}

fn list(out: &mut impl Write, items: &[ListItem]) -> std::io::Result<()> {
    if items.is_empty() {
        return writeln!(out, "(none)");
    }
    for item in items {
        let mut line = format!("{}  {}  ", item.id.short(), when(item.updated_at));
        if item.kind == tacit_node::core::Kind::Question {
            let state = if item.accepted {
                "✓".to_owned()
            } else {
                item.answers.to_string()
            };
            line.push_str(&format!("[{state:>2}] "));
        }
        line.push_str(&item.title);
        if !item.tags.is_empty() {
            line.push_str("  ");
            line.push_str(&hashtags(&item.tags));
        }
        writeln!(out, "{line}")?;
    }
    Ok(())
}

fn sync_word(s: SyncState) -> &'static str {
    match s {
        SyncState::Local => "on this device only",
        SyncState::Offline => "offline",
        SyncState::Syncing => "syncing",
        SyncState::UpToDate => "up to date",
        SyncState::Removed => "removed from the space: the copy here no longer syncs",
        SyncState::Legacy => {
            "made by an older Tacit: its notes are kept here but no longer sync; share them in a new space"
        }
    }
}

fn org_of(org: &str, partner: bool) -> String {
    match (org.is_empty(), partner) {
        (true, _) => String::new(),
        (false, true) => format!(" ({org}, partner)"),
        (false, false) => format!(" ({org})"),
    }
}

fn record_line(r: &tacit_node::core::people::Record) -> String {
    format!(
        "{} answers ({} accepted), {} thanks received, {} notes, {} questions asked",
        r.answers, r.accepted, r.thanks_received, r.notes, r.questions
    )
}

fn act_word(act: tacit_node::core::people::Act, accepted: bool) -> &'static str {
    use tacit_node::core::people::Act;
    match (act, accepted) {
        (Act::Answered, true) => "accepted",
        (Act::Answered, false) => "answered",
        (Act::Asked, _) => "asked",
        (Act::Wrote, _) => "wrote",
        (Act::Thanked, _) => "thanked",
        (Act::Confirmed, _) => "confirmed",
    }
}

/// A duration in words: "11 minutes", "3 hours", "2 days".
fn humanize(ms: i64) -> String {
    let min = ms / 60_000;
    match min {
        0 => "under a minute".into(),
        1..=89 => format!("{min} minutes"),
        90..=2_159 => format!("{} hours", (min + 30) / 60),
        _ => format!("{} days", (min + 720) / 1440),
    }
}

fn hashtags(tags: &[String]) -> String {
    tags.iter()
        .map(|t| format!("#{t}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn who(member: MemberId, me: Option<MemberId>) -> String {
    if Some(member) == me {
        "you".to_owned()
    } else {
        member.short()
    }
}

/// A time for people: `2026-11-28 19:46` (UTC). A time no calendar date can show (before
/// 1970, after 9999 — a wrong clock somewhere) prints as its milliseconds.
/// A member as a version or the trash names them: their name, else the short id.
fn named(member: Option<MemberId>, name: Option<&str>) -> String {
    match (name, member) {
        (Some(n), _) => n.to_owned(),
        (None, Some(m)) => m.short(),
        (None, None) => "(unknown)".into(),
    }
}

fn history(out: &mut impl Write, items: &[VersionInfo]) -> std::io::Result<()> {
    for item in items {
        let v = &item.version;
        let what = match v.kind {
            VersionKind::Created => "created".to_owned(),
            VersionKind::Deleted => "deleted".to_owned(),
            VersionKind::Restored => "restored".to_owned(),
            VersionKind::Edited => format!("+{} -{}", v.added, v.removed),
        };
        let changes = if v.changes == 1 {
            "1 change".to_owned()
        } else {
            format!("{} changes", v.changes)
        };
        let now = if v.current { "  (now)" } else { "" };
        writeln!(
            out,
            "{}  {}  {}  {what}, {changes}{now}",
            v.id,
            when(v.ended_at),
            named(v.author, item.author_name.as_deref()),
        )?;
    }
    Ok(())
}

fn version(out: &mut impl Write, v: &VersionDetail) -> std::io::Result<()> {
    let i = &v.version;
    writeln!(out, "# {}", v.title)?;
    let mut meta = vec![
        format!("version {}", i.version.id),
        format!("by {}", named(i.version.author, i.author_name.as_deref())),
        when(i.version.ended_at),
    ];
    if !v.tags.is_empty() {
        meta.push(hashtags(&v.tags));
    }
    writeln!(out, "{}", meta.join(" · "))?;
    if v.title != v.title_now {
        writeln!(out, "title now: {}", v.title_now)?;
    }
    if v.tags != v.tags_now {
        writeln!(out, "tags now: {}", hashtags(&v.tags_now))?;
    }
    writeln!(
        out,
        "
--- version {}
+++ now",
        i.version.id
    )?;
    for l in &v.diff {
        let mark = match l.side {
            DiffSide::Both => ' ',
            DiffSide::Then => '-',
            DiffSide::Now => '+',
        };
        writeln!(out, "{mark}{}", l.text)?;
    }
    Ok(())
}

fn trash(out: &mut impl Write, items: &[TrashItem]) -> std::io::Result<()> {
    if items.is_empty() {
        writeln!(out, "The trash is empty.")?;
    }
    for t in items {
        let kind = match t.kind {
            Kind::Question => "?",
            _ => " ",
        };
        let days = if t.days_left == 1 {
            "1 day left".to_owned()
        } else {
            format!("{} days left", t.days_left)
        };
        writeln!(
            out,
            "{}  {kind} {}  [{}]  deleted {} by {}  ({days})",
            t.id.short(),
            t.title,
            t.space_name,
            when(t.deleted_at),
            named(t.deleted_by, t.deleted_by_name.as_deref()),
        )?;
    }
    Ok(())
}

fn when(ms: i64) -> String {
    use std::fmt::Write;
    let Ok(unsigned) = u64::try_from(ms) else {
        return format!("{ms} ms");
    };
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(unsigned);
    let mut s = String::new();
    if write!(s, "{}", humantime::format_rfc3339_seconds(t)).is_err() || s.len() < 16 {
        return format!("{ms} ms");
    }
    s[..16].replacen('T', " ", 1)
}

#[cfg(test)]
mod tests {
    use super::when;

    #[test]
    fn times_print_as_dates_and_impossible_ones_as_milliseconds() {
        assert_eq!(when(0), "1970-01-01 00:00");
        assert_eq!(when(1_795_895_688_455), "2026-11-28 19:54");
        assert_eq!(when(-5), "-5 ms");
        assert_eq!(when(i64::MAX), format!("{} ms", i64::MAX));
        assert_eq!(when(253_402_300_800_000), "253402300800000 ms");
    }
}
