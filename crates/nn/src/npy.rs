//! A bound check for NumPy `.npy` data before a reader allocates for it. ndarray-npy (and
//! NumPy) allocate the array the header declares before reading it, so a 100-byte file that
//! claims a `(100000000000,)` float32 array asks for 400 GB and aborts the process (found by
//! the `npy` fuzz target). [`check`] parses the header (format versions 1–3: magic, length,
//! `descr`, `shape`) and refuses a declared size larger than the bytes that follow.

use crate::{Error, Result};

/// Checks that the `.npy` bytes hold at least as much data as their header declares.
///
/// # Errors
/// [`Error::Argument`] naming `npy` for a bad magic, truncated or unparsable header, an
/// element-count overflow, or a declared size beyond the data.
pub fn check(bytes: &[u8]) -> Result<()> {
    let bad = |what: String| Error::argument("npy", "a .npy file whose header fits its data", what);
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("no .npy magic".into()));
    }
    let (len, start): (usize, usize) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(bad(format!("format version {v}"))),
    };
    let end = start
        .checked_add(len)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| {
            bad(format!(
                "a header of {len} bytes in a {}-byte file",
                bytes.len()
            ))
        })?;
    let header = String::from_utf8_lossy(&bytes[start..end]);
    let field = |key: &str| header.find(key).map(|i| &header[i + key.len()..]);
    let descr = field("'descr':")
        .and_then(|r| r.split(['\'', '"']).nth(1))
        .ok_or_else(|| bad("no descr".into()))?;
    let item: u64 = descr
        .trim_start_matches(['<', '>', '|', '='])
        .get(1..)
        .and_then(|d| d.parse().ok())
        .unwrap_or(1)
        .max(1);
    let shape = field("'shape':")
        .and_then(|r| {
            let open = r.find('(')?;
            let close = r[open..].find(')')? + open;
            Some(&r[open + 1..close])
        })
        .ok_or_else(|| bad("no shape tuple".into()))?;
    let mut count: u64 = 1;
    for d in shape.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let d: u64 = d.parse().map_err(|_| bad(format!("shape ({shape})")))?;
        count = count
            .checked_mul(d)
            .ok_or_else(|| bad(format!("shape ({shape}) overflows")))?;
    }
    let need = count
        .checked_mul(item)
        .ok_or_else(|| bad(format!("shape ({shape}) overflows")))?;
    let have = (bytes.len() - end) as u64;
    if need > have {
        return Err(bad(format!(
            "a header declaring ({shape}) of {descr}: {need} bytes, but {have} follow (truncated or corrupt)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(header: &str, data: usize) -> Vec<u8> {
        let mut h = header.to_string();
        while !(10 + h.len() + 1).is_multiple_of(64) {
            h.push(' ');
        }
        h.push('\n');
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(h.len() as u16).to_le_bytes());
        b.extend_from_slice(h.as_bytes());
        b.extend(std::iter::repeat_n(0u8, data));
        b
    }

    #[test]
    fn accepts_fitting_data_and_refuses_oversized_headers() {
        let ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
        assert!(check(&npy(ok, 24)).is_ok());
        assert!(
            check(&npy(
                "{'descr': '<f8', 'fortran_order': False, 'shape': (), }",
                8
            ))
            .is_ok()
        );
        let e = check(&npy(ok, 23)).expect_err("short").to_string();
        assert!(e.contains("24 bytes, but 23 follow"), "{e}");
        let huge = "{'descr': '<f4', 'fortran_order': False, 'shape': (100000000000,), }";
        assert!(check(&npy(huge, 16)).is_err());
        let overflow = "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }";
        assert!(
            check(&npy(overflow, 16))
                .expect_err("overflow")
                .to_string()
                .contains("overflows")
        );
        assert!(check(b"PK\x03\x04").is_err());
        assert!(check(&npy(ok, 24)[..20]).is_err());
    }
}
