//! Display names that look alike, told apart.
//!
//! A member chooses their own display name. In a space shared with another organisation, a
//! member may choose one that reads as someone else's — "Ada Lovelace" again, "Аda Lovelace"
//! with a Cyrillic А, "ada  lovelace", "Ada Lovelace." — to have their notes, answers and
//! thanks taken for that person's. The signature says who wrote a change; the name is what
//! people read. So every name that looks like another known member's is shown with the start
//! of its member id, "Ada Lovelace (#3f2a91c0)", everywhere a name is shown; this home's own
//! member keeps its name as it is (the user knows who they are, and sees the other marked).
//!
//! "Looks like" is a skeleton: lower case, letters and digits only, and the look-alikes most
//! used to impersonate (Cyrillic and Greek letters that render as Latin ones, `0` and `o`,
//! `1`, `l` and `I`, `rn` and `m`) folded together. It is not all of Unicode's confusables;
//! a name that escapes it is still only a name, and the member id beside it on a person's
//! page, in `tacit people` and in the members list is what tells members apart for sure.

use std::collections::HashMap;

use crate::id::MemberId;

/// The letter a look-alike is taken for.
fn fold(c: char) -> char {
    match c {
        'а' | 'α' => 'a',
        'в' | 'β' => 'b',
        'с' | 'ϲ' => 'c',
        'ԁ' => 'd',
        'е' | 'ё' | 'ε' => 'e',
        'ɡ' => 'g',
        'һ' | 'н' => 'h',
        'і' | 'ї' | 'ι' | 'í' | 'ì' => 'i',
        'ј' => 'j',
        'к' | 'κ' => 'k',
        'ӏ' | 'ı' | '1' | '|' | 'ⅰ' => 'l',
        'м' => 'm',
        'п' | 'η' => 'n',
        'о' | 'ο' | 'σ' | '0' | 'ө' => 'o',
        'р' | 'ρ' => 'p',
        'ԛ' => 'q',
        'ѕ' | '5' => 's',
        'т' | 'τ' => 't',
        'υ' | 'μ' => 'u',
        'ν' | 'ѵ' => 'v',
        'ԝ' | 'ω' => 'w',
        'х' | 'χ' => 'x',
        'у' | 'γ' => 'y',
        'ᴢ' => 'z',
        other => other,
    }
}

/// What a name looks like: two names with the same skeleton may be taken for each other.
pub fn skeleton(name: &str) -> String {
    let folded: String = name
        .chars()
        .flat_map(char::to_lowercase)
        .filter(|c| c.is_alphanumeric())
        .map(fold)
        .collect();
    // `l` and `i` after folding, and `rn` for `m`, as most fonts show them.
    folded.replace('i', "l").replace("rn", "m")
}

/// `names` (each member's chosen name) as they are to be shown: a name whose skeleton another
/// member's shares gets ` (#` and the start of its member id `)`, but `me`'s. An empty name is
/// shown as the start of the member id alone.
pub fn told_apart(names: &[(MemberId, String)], me: MemberId) -> HashMap<MemberId, String> {
    let mut by_look: HashMap<String, usize> = HashMap::new();
    for (_, name) in names {
        *by_look.entry(skeleton(name)).or_default() += 1;
    }
    names
        .iter()
        .map(|(id, name)| {
            let shown = if name.trim().is_empty() {
                id.short()
            } else if *id != me && by_look.get(&skeleton(name)).is_some_and(|n| *n > 1) {
                format!("{name} (#{})", id.short())
            } else {
                name.clone()
            };
            (*id, shown)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::DeviceKey;

    fn member(n: u8) -> MemberId {
        DeviceKey::from_secret([n; 32]).member_id()
    }

    #[test]
    fn names_that_read_alike_have_the_same_skeleton() {
        let ada = skeleton("Ada Lovelace");
        for alike in [
            "ada lovelace",
            "Ada  Lovelace.",
            "\u{410}da Lovelace", // Cyrillic А
            "Ada Lovel\u{430}ce", // Cyrillic а
            "Ada L0velace",
            "Ada 1ovelace",
            "Ada Iovelace",
            "Ada\u{200b} Lovelace", // a zero-width space
        ] {
            assert_eq!(skeleton(alike), ada, "{alike:?}");
        }
        assert_eq!(skeleton("Kim"), skeleton("Kirn"));
        assert_ne!(skeleton("Ada Lovelace"), skeleton("Ada Byron"));
        assert_ne!(skeleton("Bo"), skeleton("Bob"));
    }

    #[test]
    fn look_alikes_are_told_apart_but_for_this_homes_own_member() {
        let (me, twin, other, bo) = (member(1), member(2), member(3), member(4));
        let names = vec![
            (me, "Ada Lovelace".to_owned()),
            (twin, "\u{410}da Lovelace".to_owned()),
            (bo, "Bo".to_owned()),
            (other, String::new()),
        ];
        let shown = told_apart(&names, me);
        assert_eq!(shown[&me], "Ada Lovelace");
        assert_eq!(
            shown[&twin],
            format!("\u{410}da Lovelace (#{})", twin.short())
        );
        assert_eq!(shown[&bo], "Bo");
        assert_eq!(shown[&other], other.short());
        // Seen by a third member, both are marked.
        let shown = told_apart(&names, bo);
        assert_eq!(shown[&me], format!("Ada Lovelace (#{})", me.short()));
        assert_eq!(
            shown[&twin],
            format!("\u{410}da Lovelace (#{})", twin.short())
        );
    }
}
