//! Tickets: an invitation as one string to paste into chat, `tacit1…` (or `tacit://join/tacit1…`).
//!
//! ```text
//! "tacit1" ‖ lowercase base32 (RFC 4648, no padding) of ( postcard(version, ticket) ‖ checksum )
//! checksum = first 4 bytes of SHA-256 of what precedes it
//! ```
//!
//! Base32 holds only letters and digits: nothing that a chat app links, escapes or wraps on, and
//! it reads the same in either case. The checksum tells a damaged ticket from a wrong one.

use std::fmt;

use data_encoding::BASE32_NOPAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::id::{MemberId, SpaceId};
use crate::limits::MAX_NAME_CHARS;
use crate::space::{OpHash, Role, raw};

/// Longest text [`Ticket::parse`] reads. A ticket at every field limit is about 7,500 characters,
/// so every ticket that passes the limits parses; a usual one is a few hundred.
pub const MAX_TICKET_CHARS: usize = 8192;
/// Most addresses a ticket carries: enough for every interface and a relay or two.
pub const MAX_TICKET_ADDRS: usize = 16;
/// Longest address, in bytes: a relayed QUIC multiaddr is about 150.
pub const MAX_ADDR_BYTES: usize = 256;

const PREFIX: &str = "tacit1";
const URL_PREFIX: &str = "tacit://join/";
const CHECKSUM_LEN: usize = 4;

/// Why a ticket was refused. Each message tells the user what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TicketError {
    /// The text is not a ticket at all.
    #[error("this text does not start with tacit1 — is it a Tacit invitation?")]
    NotATicket,
    /// The text is a ticket, but characters are changed or missing.
    #[error("the ticket is damaged or cut short — copy the whole ticket again")]
    Damaged,
    /// The ticket was made by a newer Tacit.
    #[error("this ticket is from a newer Tacit (format {version}); upgrade Tacit to join")]
    Unsupported {
        /// The ticket's format version.
        version: u8,
    },
    /// The text is longer than any ticket.
    #[error(
        "this text is {len} characters long, longer than any ticket ({max}); copy only the ticket"
    )]
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A field of the ticket is past its limit.
    #[error("the ticket holds {0}; ask for a new ticket")]
    Invalid(&'static str),
    /// The invitation expired.
    #[error("this invitation expired on {}; ask for a new one", crate::text::utc(*.at))]
    Expired {
        /// Its expiry.
        at: i64,
    },
}

/// An invitation to a space, with what is needed to reach the inviter.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    /// The space.
    #[serde(with = "raw::space")]
    pub space: SpaceId,
    /// The space's name, to show before joining.
    pub name: String,
    /// The invite op.
    pub invite: OpHash,
    /// The invitation's secret: whoever holds the ticket can join.
    pub secret: [u8; 32],
    /// The role a joiner gets.
    pub role: Role,
    /// When the invitation expires, in ms since the epoch.
    pub expires_at: Option<i64>,
    /// The inviter: their member id is also their peer id.
    #[serde(with = "raw::member")]
    pub inviter: MemberId,
    /// Where to reach the inviter: multiaddr strings.
    pub addrs: Vec<String>,
}

/// The encoding, versioned. The order of the variants is part of the format.
#[derive(Serialize, Deserialize)]
enum Wire {
    V1(Ticket),
}

impl Ticket {
    /// Reads a ticket as pasted: surrounding or wrapped whitespace, any case, with or without
    /// `tacit://join/`.
    pub fn parse(s: &str) -> Result<Ticket, TicketError> {
        if s.len() > MAX_TICKET_CHARS {
            return Err(TicketError::TooLong {
                len: s.len(),
                max: MAX_TICKET_CHARS,
            });
        }
        let mut text: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        text.make_ascii_lowercase();
        let text = text.strip_prefix(URL_PREFIX).unwrap_or(&text);
        let data = text.strip_prefix(PREFIX).ok_or(TicketError::NotATicket)?;
        let bytes = BASE32_NOPAD
            .decode(data.to_ascii_uppercase().as_bytes())
            .map_err(|_| TicketError::Damaged)?;
        let split = bytes
            .len()
            .checked_sub(CHECKSUM_LEN)
            .ok_or(TicketError::Damaged)?;
        let (payload, sum) = bytes.split_at(split);
        if checksum(payload) != sum {
            return Err(TicketError::Damaged);
        }
        match payload.first() {
            Some(0) => {}
            Some(&version) => return Err(TicketError::Unsupported { version }),
            None => return Err(TicketError::Damaged),
        }
        let (Wire::V1(mut ticket), rest) =
            postcard::take_from_bytes(payload).map_err(|_| TicketError::Damaged)?;
        if !rest.is_empty() {
            return Err(TicketError::Damaged);
        }
        ticket.check_limits()?;
        // The name is the inviter's word, shown before joining: on one line, with no control
        // or direction override (a lure could otherwise pose as a known space's name).
        ticket.name = crate::text::one_line(std::mem::take(&mut ticket.name));
        Ok(ticket)
    }

    /// Refuses a ticket past a limit: such a ticket would print, but not parse.
    pub fn check_limits(&self) -> Result<(), TicketError> {
        if self.name.chars().count() > MAX_NAME_CHARS {
            return Err(TicketError::Invalid("a space name that is too long"));
        }
        if self.addrs.len() > MAX_TICKET_ADDRS {
            return Err(TicketError::Invalid("too many addresses"));
        }
        if self.addrs.iter().any(|a| a.len() > MAX_ADDR_BYTES) {
            return Err(TicketError::Invalid("an address that is too long"));
        }
        Ok(())
    }

    /// Refuses the ticket if its invitation expired before `now` (ms since the epoch).
    pub fn check_expiry(&self, now: i64) -> Result<(), TicketError> {
        match self.expires_at {
            Some(at) if now > at => Err(TicketError::Expired { at }),
            _ => Ok(()),
        }
    }
}

fn checksum(payload: &[u8]) -> [u8; CHECKSUM_LEN] {
    let digest = Sha256::digest(payload);
    let mut sum = [0u8; CHECKSUM_LEN];
    sum.copy_from_slice(&digest[..CHECKSUM_LEN]);
    sum
}

impl fmt::Display for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut bytes = postcard::to_allocvec(&Wire::V1(self.clone())).map_err(|_| fmt::Error)?;
        bytes.extend(checksum(&bytes));
        f.write_str(PREFIX)?;
        f.write_str(&BASE32_NOPAD.encode(&bytes).to_ascii_lowercase())
    }
}

/// Leaves the secret out, so a ticket in a log does not admit its reader.
impl fmt::Debug for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticket")
            .field("space", &self.space)
            .field("name", &self.name)
            .field("invite", &self.invite)
            .field("role", &self.role)
            .field("expires_at", &self.expires_at)
            .field("inviter", &self.inviter)
            .field("addrs", &self.addrs)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket() -> Ticket {
        Ticket {
            space: SpaceId::from_bytes([3; 16]),
            name: "Platform team".into(),
            invite: OpHash([4; 32]),
            secret: [5; 32],
            role: Role::Editor,
            expires_at: Some(1_800_000_000_000),
            inviter: MemberId::from_bytes([6; 32]),
            addrs: vec![
                "/ip4/192.168.1.20/udp/4001/quic-v1".into(),
                "/ip6/::1/tcp/4001".into(),
            ],
        }
    }

    #[test]
    fn a_ticket_round_trips_through_text() {
        let t = ticket();
        let s = t.to_string();
        assert!(s.starts_with("tacit1"), "{s}");
        assert!(
            s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
            "{s}"
        );
        assert_eq!(Ticket::parse(&s), Ok(t.clone()));
        assert!(!format!("{t:?}").contains("secret"));
    }

    #[test]
    fn a_ticket_reads_as_a_link_in_any_case_with_whitespace_around_and_inside() {
        let t = ticket();
        let s = t.to_string();
        assert_eq!(Ticket::parse(&format!("tacit://join/{s}")), Ok(t.clone()));
        assert_eq!(Ticket::parse(&format!("  \n{s}\r\n\t")), Ok(t.clone()));
        assert_eq!(Ticket::parse(&s.to_uppercase()), Ok(t.clone()));
        assert_eq!(
            Ticket::parse(&format!("TACIT://JOIN/{}", s.to_uppercase())),
            Ok(t.clone())
        );
        let (a, b) = s.split_at(40);
        assert_eq!(Ticket::parse(&format!("{a}\n{b}")), Ok(t));
    }

    #[test]
    fn a_changed_or_cut_ticket_is_damaged() {
        let s = ticket().to_string();
        for i in PREFIX.len()..s.len() {
            let mut changed = s.clone().into_bytes();
            changed[i] = if changed[i] == b'a' { b'b' } else { b'a' };
            let changed = String::from_utf8(changed).unwrap();
            assert_eq!(
                Ticket::parse(&changed),
                Err(TicketError::Damaged),
                "char {i}"
            );
        }
        for len in PREFIX.len()..s.len() {
            assert_eq!(
                Ticket::parse(&s[..len]),
                Err(TicketError::Damaged),
                "cut at {len}"
            );
        }
        let invalid = format!("{s}1");
        assert_eq!(Ticket::parse(&invalid), Err(TicketError::Damaged));
    }

    #[test]
    fn text_that_is_not_a_ticket_says_so() {
        for text in [
            "",
            "hello",
            "https://example.com/tacit1abc",
            "tacit://join/",
            "tacit2abc",
        ] {
            let err = Ticket::parse(text).unwrap_err();
            assert_eq!(err, TicketError::NotATicket, "{text:?}");
            assert!(err.to_string().contains("Tacit invitation"));
        }
    }

    #[test]
    fn the_space_name_a_ticket_shows_is_on_one_line_without_controls() {
        let mut t = ticket();
        t.name = "Acme \u{202e}lanretni\n\u{1b}[2JPayroll".into();
        let parsed = Ticket::parse(&t.to_string()).unwrap();
        assert_eq!(parsed.name, "Acme lanretni  [2JPayroll");
    }

    #[test]
    fn overlong_text_and_fields_past_their_limits_are_refused() {
        let long = "a".repeat(MAX_TICKET_CHARS + 1);
        let err = Ticket::parse(&long).unwrap_err();
        assert!(matches!(err, TicketError::TooLong { .. }), "{err}");

        // A ticket at every limit still parses.
        let mut t = ticket();
        t.name = "😀".repeat(MAX_NAME_CHARS);
        t.expires_at = Some(i64::MIN);
        t.addrs = vec!["/".repeat(MAX_ADDR_BYTES); MAX_TICKET_ADDRS];
        assert_eq!(Ticket::parse(&t.to_string()), Ok(t.clone()));

        t.addrs.push("/ip4/10.0.0.1/tcp/1".into());
        assert!(matches!(
            Ticket::parse(&t.to_string()),
            Err(TicketError::Invalid(_))
        ));
        t.addrs.truncate(1);
        t.name.push('x');
        assert!(matches!(
            Ticket::parse(&t.to_string()),
            Err(TicketError::Invalid(_))
        ));
    }

    #[test]
    fn a_ticket_from_a_newer_tacit_asks_for_an_upgrade() {
        let mut bytes = vec![1, 2, 3];
        bytes.extend(checksum(&bytes));
        let s = format!("tacit1{}", BASE32_NOPAD.encode(&bytes));
        assert_eq!(
            Ticket::parse(&s),
            Err(TicketError::Unsupported { version: 1 })
        );
    }

    #[test]
    fn an_expired_ticket_is_refused_after_its_expiry() {
        let t = ticket();
        assert_eq!(t.check_expiry(1_800_000_000_000), Ok(()));
        let err = t.check_expiry(1_800_000_000_001).unwrap_err();
        assert_eq!(
            err,
            TicketError::Expired {
                at: 1_800_000_000_000
            }
        );
        let forever = Ticket {
            expires_at: None,
            ..t
        };
        assert_eq!(forever.check_expiry(i64::MAX), Ok(()));
    }
}
