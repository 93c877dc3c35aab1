//! Which IP addresses outbound requests may reach: public ones, plus the allow-listed
//! networks (`outbound.allowed_networks`). The check runs on every resolved address and on
//! literal-IP URLs, so a DNS name pointing at 127.0.0.1 is refused like the literal.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
};

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tiller_core::webhooks::{AddressPolicy, EndpointTarget};

#[derive(Debug, Clone, Default)]
pub struct AddressGuard {
    allowed: Vec<IpNet>,
}

impl AddressGuard {
    pub fn new(allowed: Vec<IpNet>) -> Self {
        Self { allowed }
    }

    pub fn permits(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 @ IpAddr::V4(_) => v4,
        };
        is_public(ip) || self.allowed.iter().any(|net| net.contains(&ip))
    }
}

#[async_trait::async_trait]
impl AddressPolicy for AddressGuard {
    /// Whether deliveries to an endpoint's target would be refused, checked when the
    /// endpoint is added so the operator hears of it then, not after the retry schedule.
    /// A name that does not resolve (yet) passes: the check repeats at every delivery.
    async fn check(&self, target: &EndpointTarget) -> Result<(), String> {
        let refused = |ip: IpAddr| {
            format!(
                "{ip} is a loopback, private, link-local or metadata address that outbound \
                 requests may not reach; add its network to outbound.allowed_networks"
            )
        };
        match target {
            EndpointTarget::Ip(ip) if self.permits(*ip) => Ok(()),
            EndpointTarget::Ip(ip) => Err(refused(*ip)),
            EndpointTarget::Domain(name, port) => {
                let lookup = tokio::net::lookup_host((name.as_str(), *port));
                let Ok(Ok(found)) = tokio::time::timeout(LOOKUP_TIMEOUT, lookup).await else {
                    return Ok(());
                };
                let found: Vec<IpAddr> = found.map(|a| a.ip()).collect();
                match found.iter().find(|ip| !self.permits(**ip)) {
                    Some(ip) if found.iter().all(|ip| !self.permits(*ip)) => {
                        Err(format!("{name} resolves to {}", refused(*ip)))
                    }
                    _ => Ok(()),
                }
            }
        }
    }
}

/// How long adding an endpoint waits for its host name to resolve.
const LOOKUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link local
        || first == 0x2001 && ip.segments()[1] == 0x0db8) // documentation
}

/// A resolver that drops the addresses the guard refuses, and fails when none is left.
#[derive(Debug, Clone)]
pub(super) struct GuardedResolver {
    pub(super) guard: Arc<AddressGuard>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.guard.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let permitted: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| guard.permits(a.ip()))
                .collect();
            if permitted.is_empty() {
                return Err(format!(
                    "{host} resolves only to addresses outbound requests may not reach"
                )
                .into());
            }
            let addrs: Addrs = Box::new(permitted.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_non_public_addresses_unless_allow_listed() {
        let closed = AddressGuard::default();
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!closed.permits(ip.parse().unwrap()), "{ip} must be refused");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(closed.permits(ip.parse().unwrap()), "{ip} is public");
        }
        let open = AddressGuard::new(vec!["127.0.0.1/32".parse().unwrap()]);
        assert!(open.permits("127.0.0.1".parse().unwrap()));
        assert!(open.permits("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!open.permits("127.0.0.2".parse().unwrap()));
    }

    #[tokio::test]
    async fn endpoint_targets_are_checked_before_they_are_stored() {
        let closed = AddressGuard::default();
        let ip = |s: &str| EndpointTarget::Ip(s.parse().unwrap());
        let err = closed.check(&ip("169.254.169.254")).await.unwrap_err();
        assert!(err.contains("outbound.allowed_networks"), "{err}");
        assert!(closed.check(&ip("8.8.8.8")).await.is_ok());
        // A name resolving to loopback only is refused like the literal.
        let name = EndpointTarget::Domain("localhost".into(), 80);
        assert!(closed.check(&name).await.is_err());
        let open = AddressGuard::new(vec![
            "127.0.0.0/8".parse().unwrap(),
            "::1/128".parse().unwrap(),
        ]);
        assert!(open.check(&name).await.is_ok());
        assert!(open.check(&ip("127.0.0.1")).await.is_ok());
    }
}
