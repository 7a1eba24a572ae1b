//! go-plugin's handshake: what Terraform puts in the environment, and the one line the plugin
//! answers with on stdout.

use std::net::SocketAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use tokio::net::TcpListener;

use super::{Error, MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE};

const CORE_PROTOCOL_VERSION: u32 = 1;
pub const APP_PROTOCOL_VERSION: u32 = 6;

/// What Terraform told the plugin through its environment.
#[derive(Debug)]
pub struct Handshake {
    pub port_range: Option<(u16, u16)>,
    /// Terraform's client certificate (PEM) when it wants AutoMTLS.
    pub client_cert_pem: Option<String>,
}

impl Handshake {
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Handshake, Error> {
        if env(MAGIC_COOKIE_KEY).as_deref() != Some(MAGIC_COOKIE_VALUE) {
            return Err(Error::NotLaunchedByTerraform);
        }
        if let Some(versions) = env("PLUGIN_PROTOCOL_VERSIONS") {
            let offers_6 = versions.split(',').any(|v| v.trim() == APP_PROTOCOL_VERSION.to_string());
            if !offers_6 {
                return Err(Error::UnsupportedProtocol(versions));
            }
        }
        let port = |name: &'static str| -> Result<Option<u16>, Error> {
            env(name)
                .filter(|v| !v.is_empty())
                .map(|v| {
                    v.parse().map_err(|_| Error::BadEnvironment { name, reason: format!("{v:?} is not a port number") })
                })
                .transpose()
        };
        let port_range = match (port("PLUGIN_MIN_PORT")?, port("PLUGIN_MAX_PORT")?) {
            (Some(min), Some(max)) if min <= max => Some((min, max)),
            (Some(min), Some(max)) => {
                return Err(Error::BadEnvironment {
                    name: "PLUGIN_MIN_PORT",
                    reason: format!("{min} is above PLUGIN_MAX_PORT {max}"),
                });
            }
            _ => None,
        };
        let client_cert_pem = env("PLUGIN_CLIENT_CERT").filter(|c| !c.trim().is_empty());
        Ok(Handshake { port_range, client_cert_pem })
    }

    /// Binds a loopback port inside Terraform's range, starting at a random point of it so that
    /// many providers started at once rarely race for the same port.
    pub async fn bind(&self) -> Result<TcpListener, Error> {
        let Some((min, max)) = self.port_range else {
            return Ok(TcpListener::bind("127.0.0.1:0").await?);
        };
        let span = u32::from(max - min) + 1;
        let start = rand::random_range(0..span);
        for offset in 0..span {
            let port = min + ((start + offset) % span) as u16;
            if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)).await {
                return Ok(listener);
            }
        }
        Err(Error::NoFreePort { min, max })
    }
}

/// `1|6|tcp|127.0.0.1:PORT|grpc|CERT`: the certificate is base64 DER without padding, as
/// go-plugin decodes it.
pub fn handshake_line(addr: SocketAddr, server_cert_der: Option<&[u8]>) -> String {
    let cert = server_cert_der.map(|der| STANDARD_NO_PAD.encode(der)).unwrap_or_default();
    format!("{CORE_PROTOCOL_VERSION}|{APP_PROTOCOL_VERSION}|tcp|{addr}|grpc|{cert}")
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn refuses_to_run_without_the_cookie() {
        assert!(matches!(Handshake::from_env(env(&[])), Err(Error::NotLaunchedByTerraform)));
    }

    #[test]
    fn protocol_versions_are_a_set() {
        for offered in ["5,6", "6,5", "6"] {
            let h = Handshake::from_env(env(&[
                (MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE),
                ("PLUGIN_PROTOCOL_VERSIONS", offered),
            ]));
            assert!(h.is_ok(), "{offered}");
        }
        let h =
            Handshake::from_env(env(&[(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE), ("PLUGIN_PROTOCOL_VERSIONS", "4,5")]));
        assert!(matches!(h, Err(Error::UnsupportedProtocol(_))));
    }

    #[tokio::test]
    async fn binds_inside_the_port_range() {
        let h = Handshake::from_env(env(&[
            (MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE),
            ("PLUGIN_MIN_PORT", "10000"),
            ("PLUGIN_MAX_PORT", "25000"),
        ]))
        .unwrap();
        let port = h.bind().await.unwrap().local_addr().unwrap().port();
        assert!((10000..=25000).contains(&port));
    }

    #[test]
    fn certificate_is_unpadded_base64() {
        let line = handshake_line("127.0.0.1:1234".parse().unwrap(), Some(&[1, 2, 3, 4]));
        assert_eq!(line, "1|6|tcp|127.0.0.1:1234|grpc|AQIDBA");
    }
}
