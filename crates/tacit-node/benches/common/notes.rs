//! Sample notes for the benchmarks: 1–4 KB bodies of words drawn with a Zipf distribution from
//! `/usr/share/dict/words` (Debian's `wamerican`) when present, else from generated syllable
//! words. One generator, shared by every benchmark that needs notes.

#![allow(dead_code)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tacit_node::core::{DeviceKey, Doc, DocId, Draft, Edit};

/// `count` notes from a fixed seed, and where their words came from.
pub fn drafts(count: usize, seed: u64) -> (Vec<Draft>, &'static str) {
    let (words, source) = vocabulary();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (
        (0..count).map(|i| draft(&mut rng, &words, i)).collect(),
        source,
    )
}

pub fn as_markdown(d: &Draft) -> String {
    format!("# {}\n\n{}", d.title, d.body)
}

pub fn draft(rng: &mut ChaCha8Rng, words: &[String], i: usize) -> Draft {
    let target = rng.random_range(1024..4096);
    let mut body = String::with_capacity(target + 64);
    let mut sentence = 0;
    while body.len() < target {
        let w = &words[zipf(rng, words.len())];
        if sentence == 0 {
            let mut c = w.chars();
            if let Some(first) = c.next() {
                body.extend(first.to_uppercase());
                body.push_str(c.as_str());
            }
        } else {
            body.push(' ');
            body.push_str(w);
        }
        sentence += 1;
        if sentence > rng.random_range(6..18) {
            body.push_str(if rng.random_bool(0.15) { ".\n\n" } else { ". " });
            sentence = 0;
        }
    }
    let title: Vec<&str> = (0..rng.random_range(2..7))
        .map(|_| words[zipf(rng, words.len())].as_str())
        .collect();
    Draft {
        title: format!("{} {i}", title.join(" ")),
        body,
        tags: vec![words[zipf(rng, 50)].to_lowercase()],
        aliases: Vec::new(),
    }
}

/// A rank in `0..n` with probability proportional to 1/(rank+1), like word use in prose.
pub fn zipf(rng: &mut ChaCha8Rng, n: usize) -> usize {
    let h = (n as f64).ln() + 0.5772;
    let u: f64 = rng.random::<f64>() * h;
    ((u.exp() - 1.0) as usize).min(n - 1)
}

pub fn vocabulary() -> (Vec<String>, &'static str) {
    if let Ok(text) = std::fs::read_to_string("/usr/share/dict/words") {
        let mut words: Vec<String> = text
            .lines()
            .filter(|w| w.chars().all(|c| c.is_ascii_lowercase()) && w.len() > 1)
            .map(str::to_owned)
            .collect();
        if words.len() > 1000 {
            // A fixed shuffle, so that common ranks are not all words starting with "a".
            let mut rng = ChaCha8Rng::seed_from_u64(42);
            for i in (1..words.len()).rev() {
                words.swap(i, rng.random_range(0..=i));
            }
            words.truncate(20_000);
            return (words, "from /usr/share/dict/words");
        }
    }
    let syllables = [
        "ka", "to", "re", "mi", "sun", "lo", "ver", "an", "tik", "po", "el", "dra",
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let words = (0..5000)
        .map(|_| {
            (0..rng.random_range(1..4))
                .map(|_| syllables[rng.random_range(0..syllables.len())])
                .collect()
        })
        .collect();
    (words, "generated")
}

/// Each draft as one Automerge document of one author, saved (`Doc::save`).
pub fn saved_docs(drafts: &[Draft]) -> Vec<Vec<u8>> {
    let key = DeviceKey::generate();
    drafts
        .iter()
        .map(|d| {
            let edit = Edit::new(key.member_id(), 1_700_000_000_000);
            Doc::new_note(DocId::random(), edit, d.clone())
                .unwrap()
                .save()
        })
        .collect()
}

/// The number after `name` among the command-line `args`, or `default`.
pub fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}
