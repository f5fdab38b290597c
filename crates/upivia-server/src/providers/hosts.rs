//! Where `notification.webhook` may deliver: the operator's allow-list
//! (`UPIVIA_WEBHOOK_HOSTS`) and the SSRF guard on the addresses a host name
//! resolves to.
//!
//! An entry is an exact host (`hooks.acme.io`), `*.domain` (any subdomain,
//! not the domain itself), an IP address, or either with an explicit
//! `http://` scheme (`http://127.0.0.1`), which also allows plain HTTP to
//! it; an optional `:port` restricts the entry to that port. Everything
//! else is HTTPS only. A host reached through an IP or `http://` entry is
//! *trusted*: the operator named it, so it may be a private address. A host
//! reached through a name or wildcard entry is *guarded*: it is resolved
//! once, and only public addresses are connected to (see [`is_public`] and
//! [`GuardedResolver`]), so a listed name that points inside the network
//! (or is made to, by DNS rebinding) reaches nothing there.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::{Host, Url};

/// The parsed allow-list. Empty means the reserved test domains
/// (`*.example.com`, `*.test`), which can never reach a real system.
#[derive(Clone, Debug)]
pub struct AllowList {
    entries: Vec<Entry>,
}

#[derive(Clone, Debug, PartialEq)]
struct Entry {
    host: Pattern,
    plain_http: bool,
    port: Option<u16>,
}

#[derive(Clone, Debug, PartialEq)]
enum Pattern {
    Name(String),
    /// `*.domain`: strictly below `domain`.
    Below(String),
    Ip(IpAddr),
}

/// How a delivery to an allowed URL must connect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Resolve, and connect only to public addresses.
    Guarded,
    /// Listed by IP or as `http://`: connect as resolved.
    Trusted,
}

impl AllowList {
    pub fn parse(raw: &[String]) -> Result<AllowList, String> {
        let entries = raw
            .iter()
            .map(|e| e.trim())
            .filter(|e| !e.is_empty())
            .map(|e| parse_entry(e).map_err(|why| format!("webhook host {e:?}: {why}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AllowList { entries })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `url` may receive a webhook, and how to connect to it; the
    /// refusal says why not.
    pub fn check(&self, url: &Url) -> Result<Reach, String> {
        let plain = match url.scheme() {
            "https" => false,
            "http" => true,
            other => return Err(format!("`url` must use https, not {other}")),
        };
        let host = url.host().ok_or("`url` names no host")?;
        if self.entries.is_empty() {
            let name = match &host {
                Host::Domain(d) => d.trim_end_matches('.').to_ascii_lowercase(),
                _ => String::new(),
            };
            if !(name.ends_with(".example.com") || name.ends_with(".test")) {
                return Err(format!(
                    "host {host} is not on the webhook allow-list (hosts ending in .example.com or .test)"
                ));
            }
            if plain {
                return Err("`url` must use https".into());
            }
            return Ok(Reach::Guarded);
        }
        let port = url.port_or_known_default();
        let matching: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| e.host.matches(&host) && e.port.is_none_or(|p| Some(p) == port))
            .collect();
        if matching.is_empty() {
            return Err(format!(
                "host {host} is not on the webhook allow-list ({})",
                self.describe()
            ));
        }
        let usable: Vec<&&Entry> = matching.iter().filter(|e| !plain || e.plain_http).collect();
        if usable.is_empty() {
            return Err(format!(
                "`url` must use https: plain http is allowed only to hosts listed as http://{host}"
            ));
        }
        let trusted = usable
            .iter()
            .any(|e| e.plain_http || matches!(e.host, Pattern::Ip(_)));
        Ok(if trusted {
            Reach::Trusted
        } else {
            Reach::Guarded
        })
    }

    /// The list as an operator wrote it, for messages.
    pub fn describe(&self) -> String {
        if self.entries.is_empty() {
            return "hosts ending in .example.com or .test".into();
        }
        self.entries
            .iter()
            .map(Entry::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Pattern {
    fn matches(&self, host: &Host<&str>) -> bool {
        match (self, host) {
            (Pattern::Name(name), Host::Domain(d)) => {
                d.trim_end_matches('.').eq_ignore_ascii_case(name)
            }
            (Pattern::Below(domain), Host::Domain(d)) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                d.strip_suffix(domain.as_str())
                    .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.'))
            }
            (Pattern::Ip(ip), Host::Ipv4(v4)) => *ip == IpAddr::V4(*v4),
            (Pattern::Ip(ip), Host::Ipv6(v6)) => *ip == IpAddr::V6(*v6),
            _ => false,
        }
    }
}

impl std::fmt::Display for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.plain_http {
            f.write_str("http://")?;
        }
        match &self.host {
            Pattern::Name(n) => f.write_str(n)?,
            Pattern::Below(d) => write!(f, "*.{d}")?,
            Pattern::Ip(IpAddr::V6(ip)) if self.port.is_some() => write!(f, "[{ip}]")?,
            Pattern::Ip(ip) => write!(f, "{ip}")?,
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

fn parse_entry(raw: &str) -> Result<Entry, String> {
    let lower = raw.to_ascii_lowercase();
    let (plain_http, rest) = if let Some(rest) = lower.strip_prefix("http://") {
        (true, rest)
    } else if let Some(rest) = lower.strip_prefix("https://") {
        (false, rest)
    } else if lower.contains("://") {
        return Err("only http:// may be given as a scheme".into());
    } else {
        (false, lower.as_str())
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains(['/', '?', '#', '@']) {
        return Err("give a host, optionally with a port; no path, query or user".into());
    }
    let (host, port) = split_port(rest)?;
    let host = host.trim_end_matches('.');
    let pattern = if let Ok(ip) = host.parse::<IpAddr>() {
        Pattern::Ip(ip)
    } else if let Some(domain) = host.strip_prefix("*.") {
        check_name(domain)?;
        Pattern::Below(domain.to_owned())
    } else {
        check_name(host)?;
        Pattern::Name(host.to_owned())
    };
    Ok(Entry {
        host: pattern,
        plain_http,
        port,
    })
}

/// `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address.
fn split_port(s: &str) -> Result<(&str, Option<u16>), String> {
    let parse_port = |p: &str| {
        p.parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("{p:?} is not a port"))
    };
    if let Some(inner) = s.strip_prefix('[') {
        let (host, after) = inner.split_once(']').ok_or("an unclosed [")?;
        return match after.strip_prefix(':') {
            Some(port) => Ok((host, Some(parse_port(port)?))),
            None if after.is_empty() => Ok((host, None)),
            None => Err("junk after ]".into()),
        };
    }
    match s.matches(':').count() {
        0 => Ok((s, None)),
        1 => {
            let (host, port) = s.split_once(':').ok_or("a bad port")?;
            Ok((host, Some(parse_port(port)?)))
        }
        _ => Ok((s, None)),
    }
}

fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if ok {
        Ok(())
    } else {
        Err(format!("{name:?} is not a host name"))
    }
}

/// Whether a guarded delivery may connect to `ip`: not loopback, private,
/// carrier-grade NAT, link-local (which holds the cloud metadata service
/// 169.254.169.254), unique-local (AWS's fd00:ec2::254), multicast,
/// broadcast, unspecified or reserved; IPv4 inside IPv6 (mapped,
/// compatible, NAT64, 6to4) is judged as the IPv4 address it carries.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT; Alibaba's metadata
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return is_public_v4(v4);
    }
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (first & 0xffc0) == 0xfe80 // link local fe80::/10
        || (first & 0xffc0) == 0xfec0 // site local (deprecated) fec0::/10
        || (first == 0x2001 && ip.segments()[1] == 0x0db8)) // documentation
}

/// The IPv4 address an IPv6 address stands for, where it stands for one.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    // IPv4-compatible ::a.b.c.d (not :: or ::1, judged as IPv6).
    if s[..6].iter().all(|x| *x == 0) && !(s[6] == 0 && s[7] <= 1) {
        return Some(tail);
    }
    // NAT64 64:ff9b::/96.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6].iter().all(|x| *x == 0) {
        return Some(tail);
    }
    // 6to4 2002:AABB:CCDD::/48.
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    None
}

/// A name a guarded delivery was refused for: it resolved only to addresses
/// that are not public. Travels inside the HTTP client's error so the
/// provider can tell a refusal from an outage.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves to {addr}, which is not a public address")]
pub struct BlockedAddress {
    pub host: String,
    pub addr: IpAddr,
}

/// The resolver of guarded deliveries: resolves once and hands the HTTP
/// client only public addresses, so what was checked is what is connected
/// to (no second lookup for a rebinding DNS server to answer differently).
#[derive(Clone, Debug, Default)]
pub struct GuardedResolver;

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = resolved
                .iter()
                .copied()
                .filter(|a| is_public(a.ip()))
                .collect();
            match (public.is_empty(), resolved.first()) {
                (false, _) => {
                    let addrs: reqwest::dns::Addrs = Box::new(public.into_iter());
                    Ok(addrs)
                }
                (true, Some(first)) => Err(Box::new(BlockedAddress {
                    host,
                    addr: first.ip(),
                })
                    as Box<dyn std::error::Error + Send + Sync>),
                (true, None) => Err(format!("{host} resolves to no address").into()),
            }
        })
    }
}

#[cfg(test)]
mod tests;
