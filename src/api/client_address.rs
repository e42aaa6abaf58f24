//! Who the client is, by address, behind load balancers: the TCP peer, unless the peer is one of
//! the `--trusted-proxies`. Then `X-Forwarded-For` is read from the right (the hop the trusted
//! peer saw) leftwards, past every trusted proxy, and the first address that is not one is the
//! client's. Entries left of it were written by the client and are never believed. An entry that
//! is not an address ends the walk at the last trusted hop. With no trusted proxies (the
//! default) the header is ignored. The result keys the per-address sign-in limits and is logged
//! with every request (`client`).

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;
use poem::{Request, http::header::HeaderName};

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The client's address, as `TrustedProxies::client_of` found it (a request extension, read
/// by handlers as `Data<&ClientAddress>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

/// The networks whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(networks: Vec<IpNet>) -> Self {
        Self(networks)
    }

    fn trusts(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.0.iter().any(|network| network.contains(&address))
    }

    /// The client of `req`, whose TCP peer is `peer` (`0.0.0.0` when unknown).
    pub fn client_of(&self, req: &Request) -> IpAddr {
        let peer = req
            .remote_addr()
            .as_socket_addr()
            .map_or(IpAddr::from([0u8; 4]), SocketAddr::ip);
        if self.0.is_empty() {
            return peer;
        }
        let hops = req
            .headers()
            .get_all(&X_FORWARDED_FOR)
            .iter()
            .flat_map(|value| value.to_str().unwrap_or("").split(','));
        self.client_from(peer, hops)
    }

    /// The walk itself: `hops` in header order (left to right, the client's end first).
    fn client_from<'a>(&self, peer: IpAddr, hops: impl Iterator<Item = &'a str>) -> IpAddr {
        let hops: Vec<&str> = hops.collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            if !self.trusts(client) {
                break;
            }
            match parse_hop(hop) {
                Some(address) => client = address,
                None => break,
            }
        }
        client.to_canonical()
    }
}

/// One `X-Forwarded-For` entry: an address, optionally with a port (`[::1]:443`, `1.2.3.4:80`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// `--trusted-proxies`: CIDRs (`10.0.0.0/8`) or single addresses (`127.0.0.1`).
pub fn parse_network(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{text:?} is not a CIDR like 10.0.0.0/8 or an address like 127.0.0.1"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(networks: &[&str]) -> TrustedProxies {
        TrustedProxies::new(networks.iter().map(|n| parse_network(n).unwrap()).collect())
    }

    fn client(trusted: &[&str], peer: &str, header: &str) -> String {
        let hops = header.split(',');
        proxies(trusted)
            .client_from(peer.parse().unwrap(), hops.filter(|h| !h.is_empty()))
            .to_string()
    }

    #[test]
    fn nothing_is_trusted_by_default() {
        assert_eq!(client(&[], "203.0.113.9", "198.51.100.1"), "203.0.113.9");
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let lb = ["10.0.0.0/8", "127.0.0.1"];
        assert_eq!(client(&lb, "127.0.0.1", "198.51.100.1"), "198.51.100.1");
        // Two proxies of ours, then the client; what the client wrote itself is ignored.
        assert_eq!(
            client(&lb, "10.0.0.2", "6.6.6.6, 198.51.100.1, 10.0.0.7"),
            "198.51.100.1"
        );
        // An untrusted peer's header is never read.
        assert_eq!(client(&lb, "203.0.113.9", "198.51.100.1"), "203.0.113.9");
        // Every hop trusted: the left-most one.
        assert_eq!(client(&lb, "10.0.0.2", "10.0.0.9"), "10.0.0.9");
        // No header: the proxy itself.
        assert_eq!(client(&lb, "10.0.0.2", ""), "10.0.0.2");
    }

    #[test]
    fn garbage_ends_the_walk_at_the_last_trusted_hop_and_ports_and_v6_are_read() {
        let lb = ["10.0.0.0/8"];
        assert_eq!(client(&lb, "10.0.0.2", "198.51.100.1, unknown"), "10.0.0.2");
        assert_eq!(client(&lb, "10.0.0.2", "198.51.100.1:4711"), "198.51.100.1");
        assert_eq!(client(&lb, "10.0.0.2", "[2001:db8::1]:443"), "2001:db8::1");
        // IPv4-mapped IPv6 peers are matched (and reported) as IPv4.
        assert_eq!(
            client(&lb, "::ffff:10.0.0.2", "198.51.100.1"),
            "198.51.100.1"
        );
    }

    #[test]
    fn networks_are_cidrs_or_addresses() {
        assert!(parse_network("10.0.0.0/8").is_ok());
        assert!(parse_network("::1").is_ok());
        assert!(parse_network("fd00::/8").is_ok());
        assert!(parse_network("10.0.0.0/33").is_err());
        assert!(parse_network("example.com").is_err());
    }
}
