//! The ticket target.

use data_encoding::BASE32_NOPAD;
use sha2::{Digest as _, Sha256};
use tacit_core::{MAX_TICKET_CHARS, Ticket};

/// The text of a ticket whose payload (`postcard(version, ticket)`) is `payload`: the prefix,
/// base32 of the payload and its checksum — what `Ticket`'s `Display` writes.
pub(crate) fn ticket_text(payload: &[u8]) -> String {
    let mut bytes = payload.to_vec();
    bytes.extend_from_slice(&Sha256::digest(payload)[..4]);
    format!("tacit1{}", BASE32_NOPAD.encode(&bytes).to_ascii_lowercase())
}

/// `Ticket::parse`: `[mode][rest]`. Mode bit 0 clear: `rest` is the text a user pasted. Set:
/// `rest` is a ticket's payload, given its checksum so that parsing reaches the decoding of the
/// fields; bits 1–3 write it as a link, in capitals, wrapped with whitespace. A ticket that
/// parses prints as text within [`MAX_TICKET_CHARS`] that parses to an equal ticket.
pub fn ticket(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let text = if mode & 1 == 0 {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        let mut text = ticket_text(rest);
        if mode & 2 != 0 {
            text.insert_str(0, "tacit://join/");
        }
        if mode & 4 != 0 {
            text.make_ascii_uppercase();
        }
        if mode & 8 != 0 {
            let at = usize::from(mode >> 4).min(text.len());
            text.insert_str(at, "\r\n\t ");
        }
        text
    };
    let Ok(t) = Ticket::parse(&text) else {
        return;
    };
    let printed = t.to_string();
    assert!(
        printed.len() <= MAX_TICKET_CHARS,
        "a ticket within its limits prints as {} characters",
        printed.len()
    );
    assert_eq!(
        Ticket::parse(&printed).as_ref(),
        Ok(&t),
        "a parsed ticket prints as text that does not parse to it"
    );
    let _ = t.check_expiry(i64::MAX);
    let _ = t.check_expiry(i64::MIN);
    let _ = format!("{t:?}");
}
