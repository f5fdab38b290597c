use std::net::IpAddr;

use url::Url;

use super::*;

fn list(entries: &[&str]) -> AllowList {
    AllowList::parse(&entries.iter().map(|e| e.to_string()).collect::<Vec<_>>()).unwrap()
}

fn check(list: &AllowList, url: &str) -> Result<Reach, String> {
    list.check(&Url::parse(url).unwrap())
}

#[test]
fn empty_list_allows_reserved_test_domains_over_https() {
    let l = list(&[]);
    assert_eq!(check(&l, "https://hooks.example.com/x"), Ok(Reach::Guarded));
    assert_eq!(
        check(&l, "https://HOOKS.Example.COM./x"),
        Ok(Reach::Guarded)
    );
    assert_eq!(check(&l, "https://ci.test/x"), Ok(Reach::Guarded));
    assert!(check(&l, "http://hooks.example.com/x").is_err());
    assert!(check(&l, "https://example.com.evil.net/x").is_err());
    assert!(check(&l, "https://127.0.0.1/x").is_err());
}

#[test]
fn names_and_wildcards_are_guarded_https_only() {
    let l = list(&["hooks.acme.io", "*.partner.net"]);
    assert_eq!(check(&l, "https://hooks.acme.io/x"), Ok(Reach::Guarded));
    assert_eq!(check(&l, "https://a.b.partner.net/x"), Ok(Reach::Guarded));
    for refused in [
        "https://api.acme.io/x",
        "https://partner.net/x",
        "https://evilpartner.net/x",
        "http://hooks.acme.io/x",
        "ftp://hooks.acme.io/x",
        "https://hooks.example.com/x",
    ] {
        assert!(check(&l, refused).is_err(), "{refused}");
    }
    let plain = check(&l, "http://hooks.acme.io/x").unwrap_err();
    assert!(plain.contains("http://hooks.acme.io"), "{plain}");
}

#[test]
fn ip_and_http_entries_are_trusted_and_http_entries_allow_plain_http() {
    let l = list(&["http://127.0.0.1", "10.1.2.3", "http://relay.internal:8080"]);
    assert_eq!(check(&l, "http://127.0.0.1:9999/x"), Ok(Reach::Trusted));
    assert_eq!(check(&l, "https://127.0.0.1/x"), Ok(Reach::Trusted));
    assert_eq!(check(&l, "https://10.1.2.3/x"), Ok(Reach::Trusted));
    assert!(
        check(&l, "http://10.1.2.3/x").is_err(),
        "IP entry without http://"
    );
    assert_eq!(
        check(&l, "http://relay.internal:8080/x"),
        Ok(Reach::Trusted)
    );
    assert!(check(&l, "http://relay.internal:8081/x").is_err(), "port");
    assert!(check(&l, "http://127.0.0.2/x").is_err());
}

#[test]
fn a_trusted_entry_does_not_lend_its_trust_to_other_ports() {
    let l = list(&["localhost", "http://localhost:8080"]);
    assert_eq!(check(&l, "https://localhost:9000/x"), Ok(Reach::Guarded));
    assert_eq!(check(&l, "http://localhost:8080/x"), Ok(Reach::Trusted));
}

#[test]
fn entries_parse_or_are_refused() {
    let l = list(&[
        " HTTP://[::1]:8080/ ",
        "https://Hooks.Acme.IO",
        "::1",
        "",
        "a.b:443",
    ]);
    assert_eq!(
        l.describe(),
        "http://[::1]:8080, hooks.acme.io, ::1, a.b:443"
    );
    for bad in [
        "ftp://x.io",
        "*.",
        "x.io/path",
        "user@x.io",
        "x.io:0",
        "x.io:99999",
        "bad host",
        "[::1",
        "*.*.x.io",
    ] {
        assert!(AllowList::parse(&[bad.to_owned()]).is_err(), "{bad}");
    }
}

#[test]
fn only_public_addresses_are_public() {
    let blocked = [
        "127.0.0.1",
        "127.8.9.10",
        "10.0.0.1",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "169.254.0.1",
        "100.100.100.200",
        "0.0.0.0",
        "0.1.2.3",
        "224.0.0.1",
        "255.255.255.255",
        "240.0.0.1",
        "192.0.0.170",
        "198.18.0.1",
        "::",
        "::1",
        "fd00:ec2::254",
        "fc00::1",
        "fe80::1",
        "fec0::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "::127.0.0.1",
        "64:ff9b::a00:1",
        "2002:7f00:1::",
        "2001:db8::1",
    ];
    for ip in blocked {
        assert!(!is_public(ip.parse::<IpAddr>().unwrap()), "{ip}");
    }
    for ip in [
        "93.184.215.14",
        "8.8.8.8",
        "172.32.0.1",
        "100.128.0.1",
        "2606:4700::1111",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
    ] {
        assert!(is_public(ip.parse::<IpAddr>().unwrap()), "{ip}");
    }
}

#[tokio::test]
async fn the_guarded_resolver_refuses_names_of_loopback_addresses() {
    use reqwest::dns::Resolve;
    use std::str::FromStr;
    let name = reqwest::dns::Name::from_str("localhost").unwrap();
    let err = match GuardedResolver.resolve(name).await {
        Ok(addrs) => panic!("resolved to {:?}", addrs.collect::<Vec<_>>()),
        Err(e) => e,
    };
    let blocked = err
        .downcast_ref::<BlockedAddress>()
        .expect("a BlockedAddress");
    assert!(blocked.addr.is_loopback(), "{blocked}");
}
