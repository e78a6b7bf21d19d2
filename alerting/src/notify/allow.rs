//! The SSRF guard: webhook URLs come from configuration that rule authors may influence,
//! and a webhook pointed at the pod network, the node or the cloud metadata endpoint
//! (169.254.169.254) would let them reach what the alerting pod can reach. Addresses in
//! internal ranges are refused unless an operator allows them in
//! `LOGPIPE_ALERTING_WEBHOOK_ALLOW`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use super::error::AllowListError;

/// Internal address ranges that webhooks may reach anyway. Empty by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AllowList {
    nets: Vec<IpNet>,
}

/// Why an address is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Forbidden {
    pub category: &'static str,
}

impl AllowList {
    /// Reads a comma-separated list of CIDRs (`127.0.0.0/8,::1/128`); a bare address
    /// stands for itself alone. Empty items are ignored, so an empty text allows nothing.
    pub(crate) fn parse(text: &str) -> Result<AllowList, AllowListError> {
        let mut nets = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let net = entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| AllowListError {
                    entry: entry.to_string(),
                })?;
            nets.push(net.trunc());
        }
        Ok(AllowList { nets })
    }

    /// Whether a webhook may connect to `address`. An IPv4-mapped IPv6 address
    /// (`::ffff:10.0.0.1`) and a NAT64 one (`64:ff9b::a00:1`) are judged as the IPv4
    /// address they carry, since that is where the packets go.
    pub(crate) fn check(&self, address: IpAddr) -> Result<(), Forbidden> {
        let effective = effective_address(address);
        if self
            .nets
            .iter()
            .any(|net| net.contains(&address) || net.contains(&effective))
        {
            return Ok(());
        }
        match forbidden_category(effective) {
            Some(category) => Err(Forbidden { category }),
            None => Ok(()),
        }
    }
}

/// The IPv4 address an IPv6 one stands for, when it does.
fn effective_address(address: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = address else {
        return address;
    };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return IpAddr::V4(v4);
    }
    let segments = v6.segments();
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [.., a, b, c, d] = v6.octets();
        return IpAddr::V4(Ipv4Addr::new(a, b, c, d));
    }
    address
}

fn forbidden_category(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(address: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = address.octets();
    Some(match (a, b, c) {
        // 0.0.0.0/8: connecting to it reaches this host on Linux.
        (0, _, _) => "unspecified",
        (127, _, _) => "loopback",
        (10, _, _) | (192, 168, _) => "private",
        (172, 16..=31, _) => "private",
        (169, 254, _) => "link-local",
        (100, 64..=127, _) => "shared (CGNAT)",
        (192, 0, 0) | (198, 18..=19, _) => "reserved",
        (224..=239, _, _) => "multicast",
        (240..=255, _, _) => "reserved",
        _ => return None,
    })
}

fn forbidden_v6(address: Ipv6Addr) -> Option<&'static str> {
    let first = address.segments()[0];
    Some(if address.is_unspecified() {
        "unspecified"
    } else if address.is_loopback() {
        "loopback"
    } else if first & 0xfe00 == 0xfc00 {
        "private"
    } else if first & 0xffc0 == 0xfe80 {
        "link-local"
    } else if first & 0xffc0 == 0xfec0 {
        // Site-local, deprecated but still routed inside some networks.
        "private"
    } else if first & 0xff00 == 0xff00 {
        "multicast"
    } else {
        return None;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn category(list: &AllowList, address: &str) -> Option<&'static str> {
        list.check(address.parse().unwrap())
            .err()
            .map(|forbidden| forbidden.category)
    }

    #[test]
    fn refuses_internal_ranges_by_default() {
        let none = AllowList::default();
        for (address, expected) in [
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "shared (CGNAT)"),
            ("100.127.255.254", "shared (CGNAT)"),
            ("0.0.0.0", "unspecified"),
            ("255.255.255.255", "reserved"),
            ("224.0.0.1", "multicast"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fc00::1", "private"),
            ("fd12:3456::1", "private"),
            ("fe80::1", "link-local"),
            ("ff02::1", "multicast"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:169.254.169.254", "link-local"),
            ("::ffff:10.0.0.1", "private"),
            ("64:ff9b::a9fe:a9fe", "link-local"),
        ] {
            assert_eq!(category(&none, address), Some(expected), "{address}");
        }
    }

    #[test]
    fn lets_public_addresses_through() {
        let none = AllowList::default();
        for address in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "169.253.1.1",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
        ] {
            assert_eq!(category(&none, address), None, "{address}");
        }
    }

    #[test]
    fn allowed_ranges_open_internal_addresses_in_both_notations() {
        let list = AllowList::parse("127.0.0.0/8, ::1/128,10.2.0.0/16").unwrap();
        assert_eq!(category(&list, "127.0.0.1"), None);
        assert_eq!(category(&list, "::1"), None);
        assert_eq!(category(&list, "::ffff:127.0.0.1"), None);
        assert_eq!(category(&list, "10.2.3.4"), None);
        assert_eq!(category(&list, "10.3.0.1"), Some("private"));
        assert_eq!(category(&list, "169.254.169.254"), Some("link-local"));
    }

    #[test]
    fn a_bare_address_allows_only_itself() {
        let list = AllowList::parse("169.254.10.10").unwrap();
        assert_eq!(category(&list, "169.254.10.10"), None);
        assert_eq!(category(&list, "169.254.169.254"), Some("link-local"));
    }

    #[test]
    fn empty_text_allows_nothing_and_bad_entries_are_named() {
        assert_eq!(AllowList::parse(" , ").unwrap(), AllowList::default());
        assert_eq!(
            AllowList::parse("10.0.0.0/8,10.0.0.0/33"),
            Err(AllowListError {
                entry: "10.0.0.0/33".into()
            })
        );
        assert!(AllowList::parse("localhost").is_err());
    }
}
