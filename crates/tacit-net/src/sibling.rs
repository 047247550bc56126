//! Address candidates for the transport a peer did not observe.
//!
//! A node behind a NAT learns its public address from the peers that see it (identify's observed
//! address), one transport at a time: a node whose connection to the relay is TCP learns only
//! its TCP address. The DCUtR hole punch dials the addresses each side learned. When one member
//! reached the relay over TCP and the other over QUIC (which of the two wins a dial is a race),
//! each dials the other's address on a transport the other does not dial back on. Nothing
//! crosses, and every attempt fails the same way.
//!
//! So when a NAT kept our TCP listen port for an observed TCP address (a port-preserving NAT), this
//! behaviour also offers the same public IP with our QUIC listen port as a candidate, and the
//! other way round. On such a NAT that address is right; on another NAT the guess costs one dial
//! in the hole punch that fails like the rest.
//!
//! Bounds: one derived candidate per observed one, at most [`MAX_SEEN`] addresses remembered (a
//! peer's identify answers say what it observed, and a hostile peer may say anything).

use std::{
    collections::VecDeque,
    convert::Infallible,
    net::IpAddr,
    num::NonZeroUsize,
    task::{Context, Poll},
};

use lru::LruCache;

use libp2p::{
    Multiaddr, PeerId,
    core::{Endpoint, transport::PortUse},
    multiaddr::Protocol,
    swarm::{
        ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler, THandlerInEvent,
        THandlerOutEvent, ToSwarm, dummy,
    },
};

/// How many observed and derived addresses are remembered (the least recent forgotten first).
const MAX_SEEN: NonZeroUsize = NonZeroUsize::new(64).expect("64 is not zero");

/// One of the two transports a node listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Tcp,
    Quic,
}

/// A plain, direct address: `/ip4|ip6/IP/tcp/PORT` or `/ip4|ip6/IP/udp/PORT/quic-v1`, with an
/// optional `/p2p/ID` at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Plain {
    ip: IpAddr,
    kind: Kind,
    port: u16,
}

impl Plain {
    fn parse(addr: &Multiaddr) -> Option<(Plain, Option<PeerId>)> {
        let parts: Vec<Protocol<'_>> = addr.iter().collect();
        let (parts, peer) = match parts.as_slice() {
            [rest @ .., Protocol::P2p(peer)] => (rest, Some(*peer)),
            all => (all, None),
        };
        let (ip, kind, port) = match parts {
            [ip, Protocol::Tcp(port)] => (ip, Kind::Tcp, *port),
            [ip, Protocol::Udp(port), Protocol::QuicV1] => (ip, Kind::Quic, *port),
            _ => return None,
        };
        let ip = match ip {
            Protocol::Ip4(ip) => IpAddr::V4(*ip),
            Protocol::Ip6(ip) => IpAddr::V6(*ip),
            _ => return None,
        };
        Some((Plain { ip, kind, port }, peer))
    }

    fn to_addr(self, peer: Option<PeerId>) -> Multiaddr {
        let mut addr = Multiaddr::empty().with(match self.ip {
            IpAddr::V4(ip) => Protocol::Ip4(ip),
            IpAddr::V6(ip) => Protocol::Ip6(ip),
        });
        addr = match self.kind {
            Kind::Tcp => addr.with(Protocol::Tcp(self.port)),
            Kind::Quic => addr.with(Protocol::Udp(self.port)).with(Protocol::QuicV1),
        };
        match peer {
            Some(peer) => addr.with(Protocol::P2p(peer)),
            None => addr,
        }
    }
}

/// Offers the other transport's address beside each observed one (see the module's text).
pub(crate) struct Siblings {
    /// Our listen addresses on TCP and QUIC (not relayed).
    listening: Vec<Plain>,
    /// Candidates seen or offered: a candidate offered here comes back as an event and must
    /// not be answered again.
    seen: LruCache<Multiaddr, ()>,
    /// Offered, not yet handed to the swarm (each one new in `seen`).
    queued: VecDeque<Multiaddr>,
}

impl Default for Siblings {
    fn default() -> Self {
        Self {
            listening: Vec::new(),
            seen: LruCache::new(MAX_SEEN),
            queued: VecDeque::new(),
        }
    }
}

impl Siblings {
    /// The only port we listen on with `kind` in the IP family of `ip` (our listen addresses
    /// are those of our interfaces, none of them the public one); `None` when there is none or
    /// more than one.
    fn listen_port(&self, kind: Kind, ip: IpAddr) -> Option<u16> {
        let mut ports = self
            .listening
            .iter()
            .filter(|l| l.kind == kind && l.ip.is_ipv4() == ip.is_ipv4())
            .map(|l| l.port);
        let first = ports.next()?;
        ports.all(|p| p == first).then_some(first)
    }

    /// Remembers `addr`; false when it was already remembered.
    fn remember(&mut self, addr: Multiaddr) -> bool {
        self.seen.put(addr, ()).is_none()
    }

    /// The address on the other transport that a port-preserving NAT gives, for an observed
    /// candidate; `None` when the NAT did not keep our port or we listen on no single port of
    /// the other transport.
    fn sibling_of(&self, addr: &Multiaddr) -> Option<Multiaddr> {
        let (plain, peer) = Plain::parse(addr)?;
        if self.listen_port(plain.kind, plain.ip) != Some(plain.port) {
            return None;
        }
        let other = match plain.kind {
            Kind::Tcp => Kind::Quic,
            Kind::Quic => Kind::Tcp,
        };
        let port = self.listen_port(other, plain.ip)?;
        Some(
            Plain {
                kind: other,
                port,
                ..plain
            }
            .to_addr(peer),
        )
    }

    fn on_candidate(&mut self, addr: &Multiaddr) {
        if !self.remember(addr.clone()) {
            return;
        }
        if let Some(sibling) = self.sibling_of(addr)
            && self.remember(sibling.clone())
        {
            self.queued.push_back(sibling);
        }
    }
}

impl NetworkBehaviour for Siblings {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(dummy::ConnectionHandler)
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        match event {
            FromSwarm::NewListenAddr(new) => {
                if let Some((plain, None)) = Plain::parse(new.addr)
                    && !self.listening.contains(&plain)
                {
                    self.listening.push(plain);
                }
            }
            FromSwarm::ExpiredListenAddr(gone) => {
                if let Some((plain, None)) = Plain::parse(gone.addr) {
                    self.listening.retain(|l| *l != plain);
                }
            }
            FromSwarm::NewExternalAddrCandidate(c) => self.on_candidate(c.addr),
            _ => {}
        }
    }

    fn on_connection_handler_event(
        &mut self,
        _: PeerId,
        _: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {}
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        match self.queued.pop_front() {
            Some(addr) => Poll::Ready(ToSwarm::NewExternalAddrCandidate(addr)),
            None => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> Multiaddr {
        text.parse().expect("a multiaddr")
    }

    fn listening(addrs: &[&str]) -> Siblings {
        let mut s = Siblings::default();
        for a in addrs {
            let (plain, _) = Plain::parse(&addr(a)).expect("a plain address");
            s.listening.push(plain);
        }
        s
    }

    fn offered(s: &mut Siblings, candidate: &str) -> Vec<Multiaddr> {
        s.on_candidate(&addr(candidate));
        s.queued.drain(..).collect()
    }

    #[test]
    fn an_observed_tcp_address_with_our_port_gets_its_quic_sibling_and_back() {
        let mut s = listening(&[
            "/ip4/192.168.1.2/tcp/4001",
            "/ip4/192.168.1.2/udp/4001/quic-v1",
        ]);
        let peer = PeerId::random();
        assert_eq!(
            offered(&mut s, &format!("/ip4/198.51.100.2/tcp/4001/p2p/{peer}")),
            vec![addr(&format!(
                "/ip4/198.51.100.2/udp/4001/quic-v1/p2p/{peer}"
            ))]
        );
        // The offered candidate comes back as an event: not answered again.
        assert!(
            offered(
                &mut s,
                &format!("/ip4/198.51.100.2/udp/4001/quic-v1/p2p/{peer}")
            )
            .is_empty()
        );
        // Nor is the same observation seen twice.
        assert!(offered(&mut s, &format!("/ip4/198.51.100.2/tcp/4001/p2p/{peer}")).is_empty());
        assert_eq!(
            offered(&mut s, "/ip4/192.0.2.9/udp/4001/quic-v1"),
            vec![addr("/ip4/192.0.2.9/tcp/4001")]
        );
    }

    #[test]
    fn the_sibling_takes_the_other_transports_own_port() {
        let mut s = listening(&["/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/udp/4555/quic-v1"]);
        assert_eq!(
            offered(&mut s, "/ip4/198.51.100.2/tcp/4001"),
            vec![addr("/ip4/198.51.100.2/udp/4555/quic-v1")]
        );
        assert_eq!(
            offered(&mut s, "/ip6/2001:db8::1/tcp/4001"),
            Vec::<Multiaddr>::new(),
            "no listen address of that family"
        );
    }

    #[test]
    fn nothing_is_guessed_when_the_nat_changed_the_port_or_the_address_is_not_plain() {
        let mut s = listening(&[
            "/ip4/192.168.1.2/tcp/4001",
            "/ip4/192.168.1.2/udp/4001/quic-v1",
        ]);
        for candidate in [
            "/ip4/198.51.100.2/tcp/61234",
            "/ip4/198.51.100.2/udp/4001/quic",
            "/ip4/198.51.100.2/udp/4001",
            "/dns4/example.org/tcp/4001",
            "/ip4/198.51.100.2/tcp/4001/ws",
            &format!(
                "/ip4/203.0.113.10/tcp/4001/p2p/{}/p2p-circuit/p2p/{}",
                PeerId::random(),
                PeerId::random()
            ),
        ] {
            assert!(offered(&mut s, candidate).is_empty(), "{candidate}");
        }
        // Two QUIC ports: which one the NAT would keep is unknown.
        let mut two = listening(&[
            "/ip4/192.168.1.2/tcp/4001",
            "/ip4/192.168.1.2/udp/4001/quic-v1",
            "/ip4/10.0.0.2/udp/4002/quic-v1",
        ]);
        assert!(offered(&mut two, "/ip4/198.51.100.2/tcp/4001").is_empty());
    }

    #[test]
    fn a_flood_of_observations_is_remembered_within_the_bound() {
        let mut s = listening(&[
            "/ip4/192.168.1.2/tcp/4001",
            "/ip4/192.168.1.2/udp/4001/quic-v1",
        ]);
        for i in 0..1000u32 {
            let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i);
            assert_eq!(offered(&mut s, &format!("/ip4/{ip}/tcp/4001")).len(), 1);
            assert!(s.seen.len() <= MAX_SEEN.get());
        }
    }
}
