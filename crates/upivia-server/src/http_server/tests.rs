use std::net::{IpAddr, Ipv4Addr};

use super::*;

fn limits(max: usize, per_ip: Option<usize>) -> Limits {
    Limits {
        header_read_timeout: Duration::from_secs(1),
        max_connections: max,
        max_connections_per_ip: per_ip,
    }
}

#[test]
fn ipv6_clients_are_counted_by_their_64_and_mapped_ipv4_as_ipv4() {
    let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
    let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
    let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
    assert_eq!(client_key(a), client_key(b));
    assert_ne!(client_key(a), client_key(other));
    let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
    assert_eq!(client_key(mapped), IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)));
}

#[test]
fn an_address_over_its_share_is_refused_and_its_slots_come_back() {
    let admission = Admission::new(&limits(10, Some(2)));
    let one: IpAddr = "192.0.2.1".parse().unwrap();
    let two: IpAddr = "192.0.2.2".parse().unwrap();
    let first = admission.admit(one).unwrap();
    let _second = admission.admit(one).unwrap();
    assert_eq!(admission.admit(one).err(), Some(Refusal::PerAddress));
    // The refused attempt took no global slot.
    assert_eq!(admission.slots.available_permits(), 8);
    assert!(admission.admit(two).is_ok());
    drop(first);
    assert!(admission.admit(one).is_ok());
}

#[test]
fn past_the_cap_every_address_is_refused_until_a_connection_closes() {
    let admission = Admission::new(&limits(2, None));
    let ip: IpAddr = "192.0.2.1".parse().unwrap();
    let first = admission.admit(ip).unwrap();
    let _second = admission.admit(ip).unwrap();
    assert_eq!(admission.admit(ip).err(), Some(Refusal::Capacity));
    drop(first);
    assert!(admission.admit(ip).is_ok());
}

#[test]
fn the_per_address_table_forgets_addresses_with_no_connection() {
    let admission = Admission::new(&limits(10, Some(5)));
    let conns: Vec<_> = (1..=3u8)
        .map(|i| {
            admission
                .admit(IpAddr::V4(Ipv4Addr::new(192, 0, 2, i)))
                .unwrap()
        })
        .collect();
    let counts = admission.per_address.as_ref().unwrap().1.clone();
    assert_eq!(counts.lock().unwrap().len(), 3);
    drop(conns);
    assert!(counts.lock().unwrap().is_empty());
}
