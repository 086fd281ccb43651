//! The kernel's list format (`0-3,7`), used for CPU and NUMA node sets.

/// Parses a list such as `0-3,7` into sorted, distinct numbers below
/// `limit`. An empty string is an empty set.
pub fn parse(text: &str, limit: usize) -> Result<Vec<usize>, String> {
    let mut out = Vec::new();
    if text.trim().is_empty() {
        return Ok(out);
    }
    for part in text.split(',') {
        let part = part.trim();
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (number(a, text)?, number(b, text)?),
            None => {
                let n = number(part, text)?;
                (n, n)
            }
        };
        if lo > hi {
            return Err(format!("{text:?}: range {part:?} is reversed"));
        }
        if hi >= limit {
            return Err(format!("{text:?}: {hi} is not below {limit}"));
        }
        out.extend(lo..=hi);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

fn number(s: &str, text: &str) -> Result<usize, String> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{text:?} is not a list such as 0-3,7"));
    }
    s.parse()
        .map_err(|_| format!("{text:?}: {s} is out of range"))
}

/// The set as a bit mask in 64-bit words, least significant first, with
/// room for `bits` bits.
pub fn mask(set: &[usize], bits: usize) -> Vec<u64> {
    let mut words = vec![0u64; bits.div_ceil(64)];
    for &n in set {
        words[n / 64] |= 1 << (n % 64);
    }
    words
}

/// The set as one hexadecimal number (`0x3` for CPUs 0 and 1), the way
/// runc logs an affinity.
pub fn hex(set: &[usize]) -> String {
    let words = mask(set, set.iter().max().map_or(1, |m| m + 1));
    let mut digits = String::new();
    for (i, w) in words.iter().rev().enumerate() {
        if i == 0 {
            digits.push_str(&format!("{w:x}"));
        } else {
            digits.push_str(&format!("{w:016x}"));
        }
    }
    format!("0x{digits}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        assert_eq!(parse("0-3,7", 64).unwrap(), vec![0, 1, 2, 3, 7]);
        assert_eq!(parse("1", 64).unwrap(), vec![1]);
        assert_eq!(parse("3,1,1-2", 64).unwrap(), vec![1, 2, 3]);
        assert_eq!(parse("", 64).unwrap(), Vec::<usize>::new());
        assert!(parse("3-1", 64).unwrap_err().contains("reversed"));
        assert!(parse("0-9876543210", 1024)
            .unwrap_err()
            .contains("not below 1024"));
        assert!(parse("99999999999999999999999", 1024)
            .unwrap_err()
            .contains("out of range"));
        assert!(parse("a", 64).unwrap_err().contains("not a list"));
        assert!(parse("1,,2", 64).is_err());
        assert!(parse("-1", 64).is_err());
    }

    #[test]
    fn masks() {
        assert_eq!(mask(&[0, 1], 64), vec![3]);
        assert_eq!(mask(&[64], 128), vec![0, 1]);
        assert_eq!(hex(&[0, 1]), "0x3");
        assert_eq!(hex(&[0]), "0x1");
        assert_eq!(hex(&[1]), "0x2");
        assert_eq!(hex(&[0, 64]), "0x10000000000000001");
        assert_eq!(hex(&[]), "0x0");
    }
}
