//! SASL client exchanges: PLAIN, and SCRAM (RFC 5802, RFC 7677) with SHA-256 or SHA-512.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

use super::Error;
use super::config::{SaslConfig, SaslMechanism, Secret};

/// Kafka refuses fewer; more than this from a server would only burn CPU.
const MIN_ITERATIONS: u32 = 4096;
const MAX_ITERATIONS: u32 = 1_000_000;

pub fn plain_message(config: &SaslConfig) -> Vec<u8> {
    format!("\0{}\0{}", config.username, config.password.expose()).into_bytes()
}

/// One SCRAM conversation, from the client's first message to checking the server's signature.
pub struct Scram {
    mechanism: SaslMechanism,
    password: String,
    client_nonce: String,
    client_first_bare: String,
    server_signature: Option<Vec<u8>>,
}

impl Scram {
    pub fn new(config: &SaslConfig) -> Scram {
        let nonce: [u8; 24] = rand::random();
        Scram::with_nonce(config, &STANDARD.encode(nonce))
    }

    fn with_nonce(config: &SaslConfig, nonce: &str) -> Scram {
        let username = config.username.replace('=', "=3D").replace(',', "=2C");
        Scram {
            mechanism: config.mechanism,
            client_first_bare: format!("n={username},r={nonce}"),
            password: config.password.expose().to_string(),
            client_nonce: nonce.to_string(),
            server_signature: None,
        }
    }

    pub fn client_first(&self) -> Vec<u8> {
        format!("n,,{}", self.client_first_bare).into_bytes()
    }

    pub fn client_final(&mut self, server_first: &[u8]) -> Result<Vec<u8>, Error> {
        let bad = |why: &str| Error::Authentication(format!("unexpected SCRAM server-first message: {why}"));
        let server_first = std::str::from_utf8(server_first).map_err(|_| bad("not UTF-8"))?;
        let mut nonce = None;
        let mut salt = None;
        let mut iterations = None;
        for part in server_first.split(',') {
            match part.split_once('=') {
                Some(("r", v)) => nonce = Some(v),
                Some(("s", v)) => salt = Some(STANDARD.decode(v).map_err(|_| bad("salt is not base64"))?),
                Some(("i", v)) => iterations = Some(v.parse::<u32>().map_err(|_| bad("iteration count"))?),
                Some(("e", v)) => return Err(Error::Authentication(format!("server refused SCRAM: {v}"))),
                _ => {}
            }
        }
        let (Some(nonce), Some(salt), Some(iterations)) = (nonce, salt, iterations) else {
            return Err(bad("missing nonce, salt or iteration count"));
        };
        if !nonce.starts_with(&self.client_nonce) || nonce.len() == self.client_nonce.len() {
            return Err(bad("the server nonce does not extend the client's"));
        }
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
            return Err(bad(&format!("{iterations} iterations is outside {MIN_ITERATIONS}..={MAX_ITERATIONS}")));
        }
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let (proof, server_signature) = match self.mechanism {
            SaslMechanism::ScramSha256 => proofs_sha256(&self.password, &salt, iterations, &auth_message),
            SaslMechanism::ScramSha512 => proofs_sha512(&self.password, &salt, iterations, &auth_message),
            SaslMechanism::Plain => unreachable!("SCRAM is only built for SCRAM mechanisms"),
        };
        self.server_signature = Some(server_signature);
        Ok(format!("{without_proof},p={}", STANDARD.encode(proof)).into_bytes())
    }

    pub fn verify_server_final(&self, server_final: &[u8]) -> Result<(), Error> {
        let text = String::from_utf8_lossy(server_final);
        if let Some(e) = text.strip_prefix("e=") {
            return Err(Error::Authentication(format!("server refused SCRAM: {e}")));
        }
        let signature = text
            .strip_prefix("v=")
            .and_then(|v| STANDARD.decode(v.trim()).ok())
            .ok_or_else(|| Error::Authentication("malformed SCRAM server-final message".into()))?;
        if Some(signature) != self.server_signature {
            return Err(Error::Authentication(
                "the server's SCRAM signature is wrong: it does not know the password".into(),
            ));
        }
        Ok(())
    }
}

/// A fresh salt and the password salted with it, as a SCRAM server stores it (RFC 5802's
/// SaltedPassword); `None` for a mechanism that is not SCRAM.
pub(super) fn salted_password(
    mechanism: SaslMechanism,
    password: &Secret,
    iterations: u32,
) -> Option<(Vec<u8>, Vec<u8>)> {
    let salt: [u8; 32] = rand::random();
    let password = password.expose().as_bytes();
    let salted = match mechanism {
        SaslMechanism::ScramSha256 => pbkdf2::pbkdf2_hmac_array::<Sha256, 32>(password, &salt, iterations).to_vec(),
        SaslMechanism::ScramSha512 => pbkdf2::pbkdf2_hmac_array::<Sha512, 64>(password, &salt, iterations).to_vec(),
        SaslMechanism::Plain => return None,
    };
    Some((salt.to_vec(), salted))
}

/// The client proof and the expected server signature for one exchange, for one hash.
macro_rules! scram_proofs {
    ($name:ident, $hash:ty) => {
        fn $name(password: &str, salt: &[u8], iterations: u32, auth_message: &str) -> (Vec<u8>, Vec<u8>) {
            let mut salted = vec![0u8; <$hash as Digest>::output_size()];
            pbkdf2::pbkdf2_hmac::<$hash>(password.as_bytes(), salt, iterations, &mut salted);
            let hmac = |key: &[u8], data: &[u8]| {
                let mut mac = Hmac::<$hash>::new_from_slice(key).expect("HMAC takes any key length");
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            };
            let client_key = hmac(&salted, b"Client Key");
            let stored_key = <$hash>::digest(&client_key).to_vec();
            let client_signature = hmac(&stored_key, auth_message.as_bytes());
            let proof = client_key.iter().zip(client_signature).map(|(k, s)| k ^ s).collect();
            let server_key = hmac(&salted, b"Server Key");
            (proof, hmac(&server_key, auth_message.as_bytes()))
        }
    };
}

scram_proofs!(proofs_sha256, Sha256);
scram_proofs!(proofs_sha512, Sha512);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::config::Secret;

    /// The SCRAM-SHA-256 example exchange of RFC 7677, section 3.
    #[test]
    fn rfc7677_exchange() {
        let config = SaslConfig {
            mechanism: SaslMechanism::ScramSha256,
            username: "user".into(),
            password: Secret::new("pencil"),
        };
        let mut scram = Scram::with_nonce(&config, "rOprNGfwEbeRWgbNEkqO");
        assert_eq!(scram.client_first(), b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let server_first = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let client_final = scram.client_final(server_first).unwrap();
        assert_eq!(
            String::from_utf8(client_final).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        scram.verify_server_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=").unwrap();
        assert!(scram.verify_server_final(b"v=AAAA").is_err());
    }

    #[test]
    fn server_nonce_must_extend_the_clients() {
        let config =
            SaslConfig { mechanism: SaslMechanism::ScramSha512, username: "u,=".into(), password: Secret::new("p") };
        let mut scram = Scram::with_nonce(&config, "abc");
        assert_eq!(scram.client_first(), b"n,,n=u=2C=3D,r=abc");
        assert!(scram.client_final(b"r=xyz123,s=AAAA,i=4096").is_err());
        assert!(scram.client_final(b"r=abcdef,s=AAAA,i=10").is_err());
    }
}
