//! What `config` and the connection settings of a cluster may hold: each value is written into
//! server.properties or a Service as it is, so anything that could add a line of its own or
//! undo what another attribute promises is refused at plan.

/// Written as one line of server.properties: anything but host names and ports could add lines
/// of its own.
pub(super) fn check_connect_string(connect: &str) -> Result<(), String> {
    let valid = !connect.is_empty()
        && connect.split(',').all(|hp| {
            hp.rsplit_once(':').is_some_and(|(h, p)| {
                !h.is_empty()
                    && h.chars().all(|c| c.is_ascii_alphanumeric() || ".-_[]:".contains(c))
                    && p.parse::<u16>().is_ok()
            })
        });
    if valid {
        Ok(())
    } else {
        Err(format!("{connect:?} must be host:port[,host:port...]; the chroot goes in zookeeper_chroot."))
    }
}

pub(super) fn check_cidr(range: &str) -> Result<(), String> {
    let valid =
        range.split_once('/').is_some_and(|(ip, bits)| match (ip.parse::<std::net::IpAddr>(), bits.parse::<u8>()) {
            (Ok(std::net::IpAddr::V4(_)), Ok(bits)) => bits <= 32,
            (Ok(std::net::IpAddr::V6(_)), Ok(bits)) => bits <= 128,
            _ => false,
        });
    if valid { Ok(()) } else { Err(format!("{range:?} is not a CIDR such as 203.0.113.0/24.")) }
}

/// Settings the chart derives from the resource's own attributes or from the pod: set through
/// `config`, they would break what those attributes promise (where the data lives, which
/// ZooKeeper and listeners the brokers use, which broker is which).
const STRUCTURAL_SETTINGS: &[(&str, &str)] = &[
    ("broker.id", "each broker's id comes from its pod's ordinal"),
    ("node.id", "each broker's id comes from its pod's ordinal"),
    ("broker.id.generation.enable", "each broker's id comes from its pod's ordinal"),
    ("reserved.broker.max.id", "each broker's id comes from its pod's ordinal"),
    ("log.dirs", "the data lives on the brokers' volumes"),
    ("log.dir", "the data lives on the brokers' volumes"),
    ("listeners", "the listeners follow tls_secret_name and external"),
    ("advertised.listeners", "the listeners follow tls_secret_name and external"),
    ("listener.security.protocol.map", "the listeners follow tls_secret_name and external"),
    ("inter.broker.listener.name", "the brokers talk to each other on their own listener"),
    ("security.inter.broker.protocol", "the brokers talk to each other on their own listener"),
    ("zookeeper.connect", "set the zookeeper and zookeeper_chroot attributes instead"),
    ("broker.rack", "each broker's rack is its node's zone"),
    ("process.roles", "these clusters run in ZooKeeper mode"),
    ("controller.quorum.voters", "these clusters run in ZooKeeper mode"),
    ("ssl.keystore.location", "the TLS material comes from tls_secret_name"),
    ("ssl.truststore.location", "the TLS material comes from tls_secret_name"),
    ("super.users", "who may do anything follows authentication: the admin; others get ACLs"),
    ("authorizer.class.name", "the authorizer follows authentication"),
    ("allow.everyone.if.no.acl.found", "what no ACL allows is denied while authentication is on"),
    ("sasl.enabled.mechanisms", "the SASL mechanisms follow authentication"),
    ("sasl.mechanism.inter.broker.protocol", "the SASL mechanisms follow authentication"),
];

/// Why a `config` entry is refused, if it is: a structural setting, or text that would not stay
/// one `key=value` line of server.properties.
pub(super) fn refused_setting(key: &str, value: Option<&str>) -> Option<String> {
    if let Some((_, why)) = STRUCTURAL_SETTINGS.iter().find(|(name, _)| *name == key) {
        return Some(format!("{key} cannot be set through config: {why}."));
    }
    if key.starts_with("ssl.keystore.") || key.starts_with("ssl.truststore.") {
        return Some(format!("{key} cannot be set through config: the TLS material comes from tls_secret_name."));
    }
    if key.starts_with("listener.name.") {
        return Some(format!(
            "{key} cannot be set through config: each listener's security follows authentication, tls_secret_name \
             and external."
        ));
    }
    let bad_key = key.is_empty() || key.chars().any(|c| c.is_whitespace() || c.is_control() || "=:#!\\".contains(c));
    // A trailing backslash continues the line: the next setting would become part of this value.
    let bad_value = value.is_some_and(|v| v.chars().any(char::is_control) || v.ends_with('\\'));
    (bad_key || bad_value).then(|| {
        "Keys are server.properties names (no spaces, '=', ':', '#', '!' or '\\'); values fit on one line and do not end \
         with '\\'."
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structural_settings_and_line_breaking_text_are_refused() {
        for key in [
            "log.dirs",
            "listeners",
            "advertised.listeners",
            "zookeeper.connect",
            "broker.id",
            "ssl.keystore.type",
            "super.users",
            "allow.everyone.if.no.acl.found",
            "listener.name.client.scram-sha-512.sasl.jaas.config",
        ] {
            assert!(refused_setting(key, Some("x")).is_some(), "{key}");
        }
        for (key, value) in [("a b", "1"), ("k", "1\nlog.dirs=/tmp"), ("k", "1\\"), ("k\rx", "1"), ("#k", "1")] {
            assert!(refused_setting(key, Some(value)).is_some(), "{key:?}={value:?}");
        }
        assert_eq!(refused_setting("log.retention.hours", Some("168")), None);
        assert_eq!(refused_setting("auto.create.topics.enable", Some("false")), None);
    }

    #[test]
    fn a_connect_string_cannot_carry_lines_of_its_own() {
        assert!(check_connect_string("zk:2181\nlog.dirs=/tmp:2181").is_err());
        assert!(check_connect_string("zk 1:2181").is_err());
        assert!(check_connect_string("zk-0.zk.ns.svc.cluster.local:2181,zk-1:2181").is_ok());
    }
}
