//! nxlink's request signature (`../shared/spec/nxlink-api.md` §2): the lowercase hex
//! digest of `accessKey=…&action=…&bizType=…&ts=…`, then `&body=` and the raw body, then
//! `&accessSecret=…`. MD5 by default, SHA-256 when the `algorithm` header says `sha256`.
//! The body part is left out when the body is empty and for multipart requests.

use md5::Md5;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Algorithm {
    #[default]
    Md5,
    Sha256,
}

impl Algorithm {
    /// Parses the optional `algorithm` header; `None` for a value we do not know.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "md5" => Some(Self::Md5),
            "sha256" => Some(Self::Sha256),
            _ => None,
        }
    }
}

/// The four signed common headers, exactly as received.
#[derive(Debug, Clone, Copy)]
pub struct CommonHeaders<'a> {
    pub access_key: &'a str,
    pub action: &'a str,
    pub biz_type: &'a str,
    pub ts: &'a str,
}

/// The string that is hashed. `body` is `None` for multipart requests.
pub fn signing_string(h: CommonHeaders<'_>, body: Option<&[u8]>, access_secret: &str) -> Vec<u8> {
    let mut raw = format!(
        "accessKey={}&action={}&bizType={}&ts={}",
        h.access_key, h.action, h.biz_type, h.ts
    )
    .into_bytes();
    if let Some(body) = body.filter(|b| !b.is_empty()) {
        raw.extend_from_slice(b"&body=");
        raw.extend_from_slice(body);
    }
    raw.extend_from_slice(b"&accessSecret=");
    raw.extend_from_slice(access_secret.as_bytes());
    raw
}

pub fn sign(
    h: CommonHeaders<'_>,
    body: Option<&[u8]>,
    access_secret: &str,
    alg: Algorithm,
) -> String {
    let raw = signing_string(h, body, access_secret);
    match alg {
        Algorithm::Md5 => hex::encode(Md5::digest(&raw)),
        Algorithm::Sha256 => hex::encode(Sha256::digest(&raw)),
    }
}

pub fn verify(
    h: CommonHeaders<'_>,
    body: Option<&[u8]>,
    access_secret: &str,
    alg: Algorithm,
    presented: &str,
) -> bool {
    super::hex_matches(&sign(h, body, access_secret, alg), presented)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: CommonHeaders<'static> = CommonHeaders {
        access_key: "fme2na3kdi3ki",
        action: "send",
        biz_type: "1",
        ts: "1655710885431",
    };
    const SECRET: &str = "abciiiko2k3";

    // The three vectors published in nxlink's "API Interface Invocation Convention".
    #[test]
    fn published_vector_java_csharp() {
        let body = r#"{"name":"牛小信","id":10001}"#.as_bytes();
        assert_eq!(
            sign(DOC, Some(body), SECRET, Algorithm::Md5),
            "87c3560d3331ae23f1021e2025722354"
        );
    }

    #[test]
    fn published_vector_php_go() {
        let body = r#"{"id":10001,"name":"牛小信"}"#.as_bytes();
        assert_eq!(
            sign(DOC, Some(body), SECRET, Algorithm::Md5),
            "7750759da06333f20d0640be09355e34"
        );
    }

    #[test]
    fn published_vector_python() {
        let body = r#"{"id": 10001, "name": "牛小信"}"#.as_bytes();
        assert_eq!(
            sign(DOC, Some(body), SECRET, Algorithm::Md5),
            "d0c24a9886c629330d7f3f2056c65bc2"
        );
    }

    #[test]
    fn sha256_variant_of_the_published_vector() {
        let body = r#"{"name":"牛小信","id":10001}"#.as_bytes();
        assert_eq!(
            sign(DOC, Some(body), SECRET, Algorithm::Sha256),
            "e0eec2c99ef80f269a82795e2223f618ebfc0616c8b6c8c7d438021ec38ad0eb"
        );
    }

    #[test]
    fn chat_records_get_signs_without_body() {
        let h = CommonHeaders {
            action: "mt",
            biz_type: "2",
            ..DOC
        };
        assert_eq!(
            String::from_utf8(signing_string(h, None, SECRET)).unwrap(),
            "accessKey=fme2na3kdi3ki&action=mt&bizType=2&ts=1655710885431&accessSecret=abciiiko2k3"
        );
        assert_eq!(
            sign(h, None, SECRET, Algorithm::Md5),
            "948ab46c078bff467f1b17c24a0ecc37"
        );
        assert_eq!(
            sign(h, Some(b""), SECRET, Algorithm::Md5),
            "948ab46c078bff467f1b17c24a0ecc37"
        );
        assert_eq!(
            sign(h, None, SECRET, Algorithm::Sha256),
            "49f4b5a4b191465271ab63ae83bce7773847a3b0cc54b632dc5049b81d457f4a"
        );
    }

    #[test]
    fn verify_rejects_a_changed_body_or_secret() {
        let body = br#"{"a":1}"#;
        let sig = sign(DOC, Some(body), SECRET, Algorithm::Md5);
        assert!(verify(DOC, Some(body), SECRET, Algorithm::Md5, &sig));
        assert!(!verify(
            DOC,
            Some(br#"{"a":2}"#),
            SECRET,
            Algorithm::Md5,
            &sig
        ));
        assert!(!verify(DOC, Some(body), "nope", Algorithm::Md5, &sig));
        assert!(!verify(DOC, Some(body), SECRET, Algorithm::Sha256, &sig));
    }

    #[test]
    fn algorithm_header_parsing() {
        assert_eq!(Algorithm::parse("MD5"), Some(Algorithm::Md5));
        assert_eq!(Algorithm::parse("sha256"), Some(Algorithm::Sha256));
        assert_eq!(Algorithm::parse("sha1"), None);
    }
}
