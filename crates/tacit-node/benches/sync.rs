//! The sync benchmark (not a test): prints figures beside a peer figure from the same run, and
//! asserts nothing.
//!
//! `cargo bench -p tacit-node --bench sync` (optionally `-- --notes N --edits M`)
//!
//! Two nodes in this process, on 127.0.0.1 over TCP (mDNS off), each with its own home:
//!
//! 1. edit to visible: A changes one character of a shared note; the time until B's node
//!    reports the change committed (p50/p99) — beside the same edit synced between two
//!    in-memory Automerge documents;
//! 2. first sync: B joins a space of N notes; the time until the join returns (the first sync is
//!    done and every note is listed), the bytes exchanged and the peak resident memory it took
//!    — beside `Automerge::load` of the same notes in one thread;
//! 3. reconnect: B comes back after 0 and after 10 of the N notes changed; bytes and round trips
//!    of the session — beside naive per-document Automerge sync of every note.

#![allow(missing_docs, clippy::unwrap_used)]

#[path = "common/memory.rs"]
mod memory;
#[path = "common/nodes.rs"]
mod nodes;
#[path = "common/notes.rs"]
mod notes;

use std::path::Path;
use std::time::{Duration, Instant};

use automerge::AutoCommit;
use automerge::sync::{State, SyncDoc};
use automerge::transaction::Transactable;
use tacit_node::core::{DocId, Draft, NoteEdit, Role};
use tacit_node::{Event, Node, Request, Response, SyncState, Traffic};

const DEFAULT_NOTES: usize = 10_000;
const DEFAULT_EDITS: usize = 300;
/// Notes created at once while filling A.
const IN_FLIGHT: usize = 64;

/// The allocator the `tacit` binary and the desktop app use, so that memory figures are theirs.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let notes = notes::arg(&args, "--notes", DEFAULT_NOTES);
    let edits = notes::arg(&args, "--edits", DEFAULT_EDITS);
    // `RUST_LOG=tacit_node::sync::session=trace` shows each message of a session.
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .try_init();
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!("Tacit sync benchmark (two nodes in one process, 127.0.0.1, TCP)");
    rt.block_on(edit_to_visible(edits));
    rt.block_on(first_sync_and_reconnect(notes));
}

async fn node(dir: &Path, name: &str) -> Node {
    nodes::node(dir, name, nodes::loopback()).await
}

async fn shared_pair(a: &Node, b: &Node) -> String {
    let space = space_new(a).await;
    let ticket = invite(a, &space).await;
    b.execute(Request::SpaceJoin { ticket }).await.unwrap();
    space
}

async fn space_new(a: &Node) -> String {
    match a
        .execute(Request::SpaceNew {
            name: "Bench".into(),
        })
        .await
        .unwrap()
    {
        Response::SpaceCreated { id, .. } => id.to_string(),
        other => panic!("{other:?}"),
    }
}

async fn invite(a: &Node, space: &str) -> String {
    let req = Request::SpaceInvite {
        space: space.into(),
        role: Role::Editor,
        expires_in: None,
        uses: None,
    };
    match a.execute(req).await.unwrap() {
        Response::Ticket { ticket, .. } => ticket,
        other => panic!("{other:?}"),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

async fn edit_to_visible(edits: usize) {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let a = node(dirs[0].path(), "A").await;
    let b = node(dirs[1].path(), "B").await;
    let space = shared_pair(&a, &b).await;
    let draft = notes::drafts(1, 1).0.remove(0);
    let id = match a
        .execute(Request::NoteNew {
            draft: draft.clone(),
            space: Some(space.clone()),
        })
        .await
        .unwrap()
    {
        Response::Created { id } => id,
        other => panic!("{other:?}"),
    };
    let mut events = b.subscribe();
    // Wait for the note itself to arrive.
    wait_remote(&mut events, id).await;

    let mut body = draft.body.clone();
    let mut times = Vec::with_capacity(edits);
    for i in 0..edits {
        body.insert(body.len() / 2, char::from(b'a' + (i % 26) as u8));
        let t = Instant::now();
        a.note_edit(
            &id.to_string(),
            NoteEdit {
                body: Some(body.clone()),
                ..NoteEdit::default()
            },
        )
        .await
        .unwrap();
        wait_remote(&mut events, id).await;
        times.push(t.elapsed());
    }
    times.sort();
    let in_memory = in_memory_edits(&draft, edits);

    println!(
        "\n1. edit on A → visible on B ({edits} one-character edits of a {:.1} KB note)",
        draft.body.len() as f64 / 1024.0
    );
    println!(
        "   Tacit:                      p50 {}  p99 {}   (A's commit + push + B's apply and commit)",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99))
    );
    println!(
        "   two in-memory Automerge docs: p50 {}  p99 {}   (generate/receive until both are done)",
        ms(percentile(&in_memory, 0.5)),
        ms(percentile(&in_memory, 0.99))
    );
    println!("   goal: p50 < 10 ms, p99 < 50 ms");
    a.shutdown().await;
    b.shutdown().await;
}

async fn wait_remote(events: &mut tokio::sync::broadcast::Receiver<Event>, want: DocId) {
    loop {
        match tokio::time::timeout(Duration::from_secs(60), events.recv()).await {
            Ok(Ok(Event::DocumentChanged {
                id, remote: true, ..
            })) if id == want => return,
            Ok(Ok(_)) => {}
            Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(e)) => panic!("events: {e}"),
            Err(_) => panic!("the change never reached B"),
        }
    }
}

/// One-character edits of a note synced between two in-memory Automerge documents: the time
/// of each sync round until neither side has anything to send.
fn in_memory_edits(draft: &Draft, edits: usize) -> Vec<Duration> {
    let mut a = AutoCommit::new();
    let text = a
        .put_object(automerge::ROOT, "body", automerge::ObjType::Text)
        .unwrap();
    a.splice_text(&text, 0, 0, &draft.body).unwrap();
    let mut b = AutoCommit::load(&a.save()).unwrap();
    let (mut sa, mut sb) = (State::new(), State::new());
    sync_until_done(&mut a, &mut b, &mut sa, &mut sb);
    let mut times = Vec::with_capacity(edits);
    for i in 0..edits {
        a.splice_text(
            &text,
            draft.body.len() / 2,
            0,
            &((b'a' + (i % 26) as u8) as char).to_string(),
        )
        .unwrap();
        let t = Instant::now();
        sync_until_done(&mut a, &mut b, &mut sa, &mut sb);
        times.push(t.elapsed());
    }
    times.sort();
    times
}

/// Runs Automerge's sync between two documents until both are done; returns the messages and
/// bytes sent.
fn sync_until_done(
    a: &mut AutoCommit,
    b: &mut AutoCommit,
    sa: &mut State,
    sb: &mut State,
) -> (usize, usize) {
    let (mut messages, mut bytes) = (0, 0);
    loop {
        let mut quiet = true;
        if let Some(m) = a.sync().generate_sync_message(sa) {
            let m = m.encode();
            messages += 1;
            bytes += m.len();
            b.sync()
                .receive_sync_message(sb, automerge::sync::Message::decode(&m).unwrap())
                .unwrap();
            quiet = false;
        }
        if let Some(m) = b.sync().generate_sync_message(sb) {
            let m = m.encode();
            messages += 1;
            bytes += m.len();
            a.sync()
                .receive_sync_message(sa, automerge::sync::Message::decode(&m).unwrap())
                .unwrap();
            quiet = false;
        }
        if quiet {
            return (messages, bytes);
        }
    }
}

async fn fill(a: &Node, space: &str, drafts: &[Draft]) {
    let mut tasks: tokio::task::JoinSet<Result<(), tacit_node::NodeError>> =
        tokio::task::JoinSet::new();
    for d in drafts {
        while tasks.len() >= IN_FLIGHT {
            tasks.join_next().await.unwrap().unwrap().unwrap();
        }
        let a = a.clone();
        let req = Request::NoteNew {
            draft: d.clone(),
            space: Some(space.to_owned()),
        };
        tasks.spawn(async move { a.execute(req).await.map(|_| ()) });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap().unwrap();
    }
}

async fn count(node: &Node, space: &str) -> usize {
    match node
        .execute(Request::NoteList {
            limit: None,
            space: Some(space.to_owned()),
        })
        .await
        .unwrap()
    {
        Response::List { items } => items.len(),
        other => panic!("{other:?}"),
    }
}

/// The traffic of B's session with its one peer.
async fn traffic(b: &Node) -> Traffic {
    match b.execute(Request::Peers).await.unwrap() {
        Response::Peers { items } => items.first().map(|p| p.traffic).unwrap_or_default(),
        other => panic!("{other:?}"),
    }
}

/// Waits until B is connected, its space is up to date, and `done` holds.
async fn settled(b: &Node, space: &str, done: impl AsyncFn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let up = match b.execute(Request::SpaceList).await.unwrap() {
            Response::Spaces { items } => items
                .iter()
                .any(|s| s.id.to_string() == space && s.sync == SyncState::UpToDate),
            _ => false,
        };
        if up && done().await {
            return;
        }
        assert!(Instant::now() < deadline, "B never settled");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn first_sync_and_reconnect(n: usize) {
    let (drafts, source) = notes::drafts(n, 0x5eed);
    let text: usize = drafts.iter().map(|d| notes::as_markdown(d).len()).sum();
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let a = node(dirs[0].path(), "A").await;
    let space = space_new(&a).await;
    let t = Instant::now();
    fill(&a, &space, &drafts).await;
    let fill_time = t.elapsed();

    // 2. first sync
    let (last_title, last_word) = distinctive(&drafts);
    let b = node(dirs[1].path(), "B").await;
    let ticket = invite(&a, &space).await;
    // Both nodes live in this process: the peak during the first sync less what the process
    // held before it (A with its notes, B empty) is what B took on (plus A's serving buffers).
    let rss_before = memory::proc_status_kb("VmRSS");
    let hwm_reset = memory::reset_peak();
    let cpu_before = memory::cpu_seconds();
    let t = Instant::now();
    b.execute(Request::SpaceJoin { ticket }).await.unwrap();
    let joined = t.elapsed();
    // The join may return before every note is in (status counts them cheaply; then one list).
    while t.elapsed() < GIVE_UP {
        match b.execute(Request::Status).await.unwrap() {
            Response::Status(s) if s.notes >= n as u64 => break,
            _ => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
    let listed = count(&b, &space).await;
    let first = t.elapsed();
    let (indexed, searchable) = searchable_on(&b, n, &last_title, &last_word, t).await;
    let cpu = memory::cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| (after - before, t.elapsed()));
    let rss_peak = memory::proc_status_kb("VmHWM");
    let first_traffic = traffic(&b).await;
    // The notes saved once, loaded by both peers' timings.
    let saved = notes::saved_docs(&drafts);
    let load_time = automerge_load_time(&saved);
    let load_two = automerge_load_time_on_two_threads(&saved);

    println!(
        "\n2. first sync of a space of {n} notes ({:.1} MB of Markdown, words {source}; A filled in {:.1} s)",
        text as f64 / 1e6,
        fill_time.as_secs_f64()
    );
    println!(
        "   Tacit: joined and synced in {:.2} s; {listed} notes listed on B at {:.2} s",
        joined.as_secs_f64(),
        first.as_secs_f64()
    );
    println!(
        "          searchable on B at {} (B's index: {n} docs, 0 pending); the last note written on A then found by its word \"{last_word}\" and its title's number at {}",
        secs(indexed),
        secs(searchable)
    );
    println!(
        "          {:.1} MB received, {:.1} KB sent, {} frames in, {} out",
        first_traffic.bytes_in as f64 / 1e6,
        first_traffic.bytes_out as f64 / 1e3,
        first_traffic.frames_in,
        first_traffic.frames_out
    );
    match (rss_before, rss_peak, hwm_reset) {
        (Some(before), Some(peak), true) => println!(
            "          peak resident memory of this process during it {:.0} MB, {:.0} MB over the {:.0} MB it held before (B's share, with A's serving; goal under 300 MB)",
            peak as f64 / 1e3,
            peak.saturating_sub(before) as f64 / 1e3,
            before as f64 / 1e3
        ),
        _ => println!(
            "          (peak resident memory: /proc/self/clear_refs or status unavailable)"
        ),
    }
    if let Some((cpu, until)) = cpu {
        println!(
            "          CPU time of this process (both nodes) until searchable: {cpu:.1} s in {:.2} s, {:.2} cores busy on average; {:.2}× the one-thread load's",
            until.as_secs_f64(),
            cpu / until.as_secs_f64(),
            cpu / load_time.as_secs_f64()
        );
    }
    println!(
        "   Automerge::load of the same notes, one thread: {:.2} s; Tacit listed at {:.2}× it, searchable at {}",
        load_time.as_secs_f64(),
        first.as_secs_f64() / load_time.as_secs_f64(),
        indexed.map_or_else(
            || "—".to_owned(),
            |d| format!("{:.2}×", d.as_secs_f64() / load_time.as_secs_f64())
        )
    );
    println!(
        "   the same load split over two threads: {:.2} s = {:.2}× the one-thread load (what two cores give here)",
        load_two.as_secs_f64(),
        load_two.as_secs_f64() / load_time.as_secs_f64()
    );
    println!("   goal: listed and searchable on B in at most 0.65× the one-thread load");

    // 3. reconnects
    let (naive0, naive10) = naive_sync(&drafts);
    for changed in [0usize, 10] {
        b.shutdown().await;
        let mut edited = Vec::new();
        if changed > 0 {
            let items = match a
                .execute(Request::NoteList {
                    limit: Some(changed as u32),
                    space: Some(space.clone()),
                })
                .await
                .unwrap()
            {
                Response::List { items } => items,
                other => panic!("{other:?}"),
            };
            for item in items {
                let id = item.id.to_string();
                a.note_edit(
                    &id,
                    NoteEdit {
                        title: Some(format!("{} (changed)", item.title)),
                        ..NoteEdit::default()
                    },
                )
                .await
                .unwrap();
                edited.push(id);
            }
        }
        // B reaches A only through a proxy that delays every byte by half of `RTT` each way,
        // so that the time the reconnect takes counts its round trips. B's address book is
        // cleared so that it does not dial A directly.
        let db = rusqlite::Connection::open(dirs[1].path().join("tacit.db")).unwrap();
        db.execute("DELETE FROM addresses", []).unwrap();
        drop(db);
        let proxy = delay_proxy(&listen_addr(&a).await).await;
        let b2 = Node::open(dirs[1].path()).await.unwrap();
        b2.start_network(nodes::loopback()).await.unwrap();
        b2.execute(Request::Connect { addr: proxy }).await.unwrap();
        let t0 = Instant::now();
        let check = edited.clone();
        settled(&b2, &space, async || {
            for id in &check {
                match b2.note_show(id).await {
                    Ok(n) if n.title.ends_with("(changed)") => {}
                    _ => return false,
                }
            }
            true
        })
        .await;
        let took = t0.elapsed();
        let t = traffic(&b2).await;
        let (naive_messages, naive_bytes) = if changed == 0 { naive0 } else { naive10 };
        println!("\n3. reconnect with {changed} of {n} notes changed while B was away");
        println!(
            "   Tacit: {:.1} KB ({} B in, {} B out), {} frames; {:.1} round trips ({} ms at {} ms RTT, from connected to up to date; {} turns of direction)",
            (t.bytes_in + t.bytes_out) as f64 / 1e3,
            t.bytes_in,
            t.bytes_out,
            t.frames_in + t.frames_out,
            took.as_secs_f64() / RTT.as_secs_f64(),
            took.as_millis(),
            RTT.as_millis(),
            t.round_trips
        );
        // Which order the two peer ids fall in: before the dialler opened the sync stream,
        // the order decided who did, and the reconnect took a round trip more in one of them.
        let order = |n: &Node| n.peer_id().parse::<libp2p::PeerId>().unwrap();
        println!(
            "   (B dialled A; B's peer id is the {} of the two)",
            if order(&b2) < order(&a) {
                "smaller"
            } else {
                "larger"
            }
        );
        println!(
            "   naive per-document Automerge sync: {:.1} KB, {naive_messages} messages",
            naive_bytes as f64 / 1e3
        );
        if changed > 0 {
            println!("   goal: at most 20 KB and 4 round trips");
        }
        // Keep B for the next round.
        b2.shutdown().await;
    }
    a.shutdown().await;
}

/// The last draft's title, and the word of its body that the fewest other drafts hold.
fn distinctive(drafts: &[Draft]) -> (String, String) {
    let words = |d: &Draft| -> std::collections::HashSet<String> {
        d.body
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.len() > 3)
            .map(str::to_lowercase)
            .collect()
    };
    let last = drafts.last().unwrap();
    let mut held: std::collections::HashMap<String, usize> =
        words(last).into_iter().map(|w| (w, 0)).collect();
    for d in &drafts[..drafts.len() - 1] {
        for w in words(d) {
            if let Some(c) = held.get_mut(&w) {
                *c += 1;
            }
        }
    }
    let word = held
        .into_iter()
        .min_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)))
        .unwrap()
        .0;
    (last.title.clone(), word)
}

/// Polls B's status every 5 ms from `t` until its index holds `n` documents with nothing
/// pending, then searches for `word` until the note titled `title` is among the hits: when each
/// first held. (Status only, not searches, while B indexes: each search commits the index.)
async fn searchable_on(
    b: &Node,
    n: usize,
    title: &str,
    word: &str,
    t: Instant,
) -> (Option<Duration>, Option<Duration>) {
    let (mut indexed, mut found) = (None, None);
    while t.elapsed() < GIVE_UP {
        if indexed.is_none() {
            if let Response::Status(s) = b.execute(Request::Status).await.unwrap()
                && s.search.docs >= n as u64
                && s.search.pending == 0
            {
                indexed = Some(t.elapsed());
                continue;
            }
        } else {
            // With a small vocabulary (generated words, no /usr/share/dict/words) even the
            // rarest word of the note is in many others: the title's number singles it out.
            let number = title.rsplit(' ').next().unwrap_or_default();
            let req = Request::Search {
                query: format!("{word} {number} "),
                space: None,
                limit: Some(20),
            };
            if let Response::Hits { items, .. } = b.execute(req).await.unwrap()
                && items.iter().any(|h| h.title == title)
            {
                found = Some(t.elapsed());
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (indexed, found)
}

/// How long the first sync's polls wait before they report "not within" instead of a time.
const GIVE_UP: Duration = Duration::from_secs(300);

fn secs(d: Option<Duration>) -> String {
    match d {
        Some(d) => format!("{:.2} s", d.as_secs_f64()),
        None => format!("not within {} s", GIVE_UP.as_secs()),
    }
}

/// The round-trip time the reconnect proxy adds.
const RTT: Duration = Duration::from_millis(100);

async fn listen_addr(node: &Node) -> String {
    match node.execute(Request::Status).await.unwrap() {
        Response::Status(s) => s.listen_addrs[0].clone(),
        other => panic!("{other:?}"),
    }
}

/// A TCP proxy on 127.0.0.1 to `target` (a `/ip4/…/tcp/…` multiaddr) that delivers every byte
/// `RTT / 2` after it arrived, in order, each way. Returns its own multiaddr.
async fn delay_proxy(target: &str) -> String {
    let port: u16 = target.rsplit('/').next().unwrap().parse().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let me = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let Ok(outbound) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
                continue;
            };
            // A path delays bytes, it does not hold small writes back for an acknowledgement as
            // a sending host's Nagle algorithm does (the nodes themselves set TCP_NODELAY): with
            // it on here, a small frame written while another was unacknowledged waited for the
            // peer's delayed ACK, 40 ms at a time.
            let _ = inbound.set_nodelay(true);
            let _ = outbound.set_nodelay(true);
            let (ri, wi) = inbound.into_split();
            let (ro, wo) = outbound.into_split();
            tokio::spawn(delayed(ri, wo));
            tokio::spawn(delayed(ro, wi));
        }
    });
    format!("/ip4/127.0.0.1/tcp/{me}")
}

async fn delayed(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
    tokio::spawn(async move {
        while let Some((due, bytes)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&bytes).await.is_err() {
                break;
            }
        }
    });
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n) = from.read(&mut buf).await {
        if n == 0
            || tx
                .send((tokio::time::Instant::now() + RTT / 2, buf[..n].to_vec()))
                .is_err()
        {
            break;
        }
    }
}

/// `Automerge::load` of every note, one after another.
fn automerge_load_time(saved: &[Vec<u8>]) -> Duration {
    let t = Instant::now();
    for bytes in saved {
        std::hint::black_box(automerge::Automerge::load(bytes).unwrap());
    }
    t.elapsed()
}

/// `Automerge::load` of the same notes, half on each of two threads: how far two cores go here.
fn automerge_load_time_on_two_threads(saved: &[Vec<u8>]) -> Duration {
    let (first, second) = saved.split_at(saved.len() / 2);
    let t = Instant::now();
    std::thread::scope(|s| {
        for half in [first, second] {
            s.spawn(move || {
                for bytes in half {
                    std::hint::black_box(automerge::Automerge::load(bytes).unwrap());
                }
            });
        }
    });
    t.elapsed()
}

/// Naive per-document sync of every note (fresh sync states, as after a reconnect): messages
/// and bytes with nothing changed, and with 10 changed.
fn naive_sync(drafts: &[Draft]) -> ((usize, usize), (usize, usize)) {
    let saved = notes::saved_docs(drafts);
    let mut pairs: Vec<(AutoCommit, AutoCommit)> = saved
        .iter()
        .map(|s| (AutoCommit::load(s).unwrap(), AutoCommit::load(s).unwrap()))
        .collect();
    let run = |pairs: &mut Vec<(AutoCommit, AutoCommit)>| {
        let (mut m, mut b) = (0, 0);
        for (x, y) in pairs.iter_mut() {
            let (mm, bb) = sync_until_done(x, y, &mut State::new(), &mut State::new());
            m += mm;
            b += bb;
        }
        (m, b)
    };
    let zero = run(&mut pairs);
    for (x, _) in pairs.iter_mut().take(10) {
        x.put(automerge::ROOT, "title", "changed").unwrap();
    }
    let ten = run(&mut pairs);
    (zero, ten)
}
