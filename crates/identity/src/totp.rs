//! Time-based one-time passwords: HOTP (RFC 4226) over a time step (RFC 6238), as
//! authenticator apps compute them (HMAC-SHA-1, 6 digits, 30-second steps), with SHA-256 and
//! SHA-512 for the RFC's test vectors.

use hmac::{Hmac, Mac};

/// The hash under the HMAC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TotpHash {
    Sha1,
    Sha256,
    Sha512,
}

/// Seconds per step (RFC 6238 §5.2 recommends 30).
pub const STEP_SECONDS: u64 = 30;
/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Steps either side of now that are still accepted, for clock drift (RFC 6238 §5.2).
pub const DRIFT_STEPS: u64 = 1;
/// Length of a new secret (RFC 4226 §4 recommends 160 bits).
pub const SECRET_BYTES: usize = 20;

fn hmac_of(hash: TotpHash, key: &[u8], message: &[u8]) -> Vec<u8> {
    match hash {
        TotpHash::Sha1 => {
            let mut m = Hmac::<sha1::Sha1>::new_from_slice(key).expect("any key length");
            m.update(message);
            m.finalize().into_bytes().to_vec()
        }
        TotpHash::Sha256 => {
            let mut m = Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key length");
            m.update(message);
            m.finalize().into_bytes().to_vec()
        }
        TotpHash::Sha512 => {
            let mut m = Hmac::<sha2::Sha512>::new_from_slice(key).expect("any key length");
            m.update(message);
            m.finalize().into_bytes().to_vec()
        }
    }
}

/// The HOTP value of `counter` (RFC 4226 §5.3, dynamic truncation), `digits` long.
pub fn hotp(hash: TotpHash, key: &[u8], counter: u64, digits: u32) -> u32 {
    let mac = hmac_of(hash, key, &counter.to_be_bytes());
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let binary = (u32::from(mac[offset] & 0x7f) << 24)
        | (u32::from(mac[offset + 1]) << 16)
        | (u32::from(mac[offset + 2]) << 8)
        | u32::from(mac[offset + 3]);
    binary % 10u32.pow(digits)
}

/// The time step of a Unix time in seconds (RFC 6238 §4.2, T0 = 0).
pub fn step_of(unix_seconds: u64) -> u64 {
    unix_seconds / STEP_SECONDS
}

/// The code at a time step, zero-padded.
pub fn code_at(key: &[u8], step: u64) -> String {
    format!(
        "{:0width$}",
        hotp(TotpHash::Sha1, key, step, DIGITS),
        width = DIGITS as usize
    )
}

/// The step at which `code` is valid near `unix_seconds`, if any and if it is later than
/// `last_used`: a code is accepted once (RFC 6238 §5.2).
pub fn accept(key: &[u8], code: &str, unix_seconds: u64, last_used: Option<u64>) -> Option<u64> {
    let code = code.trim();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_of(unix_seconds);
    let mut found = None;
    for step in now.saturating_sub(DRIFT_STEPS)..=now + DRIFT_STEPS {
        let candidate = code_at(key, step);
        if crate::token::same_secret(candidate.as_bytes(), code.as_bytes()) {
            found = Some(step);
        }
    }
    found.filter(|step| last_used.is_none_or(|last| *step > last))
}

/// RFC 4648 base32 without padding, as `otpauth://` URIs carry secrets.
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Decodes [`base32`] (upper case, no padding).
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for c in text.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        buffer = (buffer << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Some(out)
}

/// The `otpauth://` URI an authenticator app reads from a QR code (Key Uri Format).
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        enc(issuer),
        enc(account),
        base32(secret),
        enc(issuer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B: the seeds and the 8-digit values at each time.
    #[test]
    fn rfc_6238_appendix_b_vectors() {
        let sha1 = b"12345678901234567890".to_vec();
        let sha256 = b"12345678901234567890123456789012".to_vec();
        let sha512 = b"1234567890123456789012345678901234567890123456789012345678901234".to_vec();
        let vectors: [(u64, &str, TotpHash, &[u8]); 18] = [
            (59, "94287082", TotpHash::Sha1, &sha1),
            (59, "46119246", TotpHash::Sha256, &sha256),
            (59, "90693936", TotpHash::Sha512, &sha512),
            (1111111109, "07081804", TotpHash::Sha1, &sha1),
            (1111111109, "68084774", TotpHash::Sha256, &sha256),
            (1111111109, "25091201", TotpHash::Sha512, &sha512),
            (1111111111, "14050471", TotpHash::Sha1, &sha1),
            (1111111111, "67062674", TotpHash::Sha256, &sha256),
            (1111111111, "99943326", TotpHash::Sha512, &sha512),
            (1234567890, "89005924", TotpHash::Sha1, &sha1),
            (1234567890, "91819424", TotpHash::Sha256, &sha256),
            (1234567890, "93441116", TotpHash::Sha512, &sha512),
            (2000000000, "69279037", TotpHash::Sha1, &sha1),
            (2000000000, "90698825", TotpHash::Sha256, &sha256),
            (2000000000, "38618901", TotpHash::Sha512, &sha512),
            (20000000000, "65353130", TotpHash::Sha1, &sha1),
            (20000000000, "77737706", TotpHash::Sha256, &sha256),
            (20000000000, "47863826", TotpHash::Sha512, &sha512),
        ];
        for (time, expected, hash, key) in vectors {
            let got = format!("{:08}", hotp(hash, key, step_of(time), 8));
            assert_eq!(got, expected, "{hash:?} at {time}");
        }
    }

    /// RFC 4226 Appendix D: HOTP values for counters 0 to 9.
    #[test]
    fn rfc_4226_appendix_d_vectors() {
        let expected = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (counter, value) in expected.into_iter().enumerate() {
            assert_eq!(
                hotp(TotpHash::Sha1, b"12345678901234567890", counter as u64, 6),
                value
            );
        }
    }

    #[test]
    fn a_code_is_accepted_once_and_only_near_its_time() {
        let key = b"12345678901234567890";
        let t = 1_111_111_111;
        let code = code_at(key, step_of(t));
        let step = accept(key, &code, t, None).expect("accepted now");
        assert_eq!(
            accept(key, &code, t + 30, None),
            Some(step),
            "one step of drift"
        );
        assert_eq!(accept(key, &code, t, Some(step)), None, "not twice");
        assert_eq!(
            accept(key, &code, t + 300, None),
            None,
            "not ten steps later"
        );
        assert_eq!(accept(key, "12345", t, None), None);
        assert_eq!(accept(key, "abcdef", t, None), None);
    }

    #[test]
    fn base32_round_trips_rfc_4648_vectors() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(base32_decode("MZXW6YTBOI").unwrap(), b"foobar");
        assert_eq!(base32_decode("MZXW6YQ=").unwrap(), b"foob");
        assert!(base32_decode("mzxw").is_none());
    }
}
