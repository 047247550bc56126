//! A child process for the crash test: writes notes and edits them through the `Node` handle
//! from several tasks at once, and prints a line only after each write returned:
//! `ID REV` means the note ID holds revisions 0..=REV of its body. The test kills it at random.

use std::io::Write;

use tacit_node::Node;
use tacit_node::core::{Draft, NoteEdit};

/// Concurrent writers, so that group commits batch several requests.
const WRITERS: usize = 4;
/// Edits per note after its creation; enough that compaction runs.
const EDITS: usize = 40;

/// The body of revision `rev` of a note.
fn body(rev: usize) -> String {
    (0..=rev).map(|i| format!("line {i}\n")).collect()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let home = args.next().expect("usage: crash_writer HOME ROUND");
    let round = args.next().expect("usage: crash_writer HOME ROUND");
    let node = Node::open(std::path::Path::new(&home)).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    for w in 0..WRITERS {
        let node = node.clone();
        let tx = tx.clone();
        let round = round.clone();
        tokio::spawn(async move {
            for n in 0.. {
                let draft = Draft {
                    title: format!("r{round}-w{w}-n{n}"),
                    body: body(0),
                    tags: vec![format!("round{round}")],
                    aliases: Vec::new(),
                };
                let Ok(id) = node.note_new(draft).await else {
                    return;
                };
                let _ = tx.send(format!("{id} 0"));
                for rev in 1..=EDITS {
                    let edit = NoteEdit {
                        body: Some(body(rev)),
                        ..Default::default()
                    };
                    if node.note_edit(&id.to_string(), edit).await.is_err() {
                        return;
                    }
                    let _ = tx.send(format!("{id} {rev}"));
                }
            }
        });
    }
    drop(tx);
    let mut out = std::io::stdout().lock();
    while let Some(line) = rx.recv().await {
        writeln!(out, "{line}")?;
        out.flush()?;
    }
    Ok(())
}
