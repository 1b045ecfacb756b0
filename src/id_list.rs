//! Writes a list of contact IDs as a JSON array: the bulk of every request body and of
//! every ledger line.
//!
//! This runs for every ID twice on the sending thread, so it is written for speed: eight
//! digits at a time with integer arithmetic on all eight at once ("SWAR"), stored with
//! fixed-size writes into a stack buffer that reaches the output a few hundred bytes at a
//! time. serde_json's writer, which this replaced, copied each number separately. The
//! bytes are exactly serde_json's (property-tested below).

/// Longest `u64` in decimal (20 digits) plus the comma before it.
const MAX_ID_TEXT: usize = 21;
/// Working part of the stack buffer; 8 more bytes take the last fixed-size write.
const BUFFER: usize = 512;

/// Appends `[id,id,...]` to `out`.
pub fn write_json_ids(out: &mut Vec<u8>, ids: &[u64]) {
    out.reserve(ids.len() * MAX_ID_TEXT + 2);
    let mut buffer = [0u8; BUFFER + 8];
    buffer[0] = b'[';
    let mut len = 1;
    for (i, &id) in ids.iter().enumerate() {
        // Room for this ID and the closing bracket.
        if len + MAX_ID_TEXT + 1 > BUFFER {
            out.extend_from_slice(&buffer[..len]);
            len = 0;
        }
        if i > 0 {
            buffer[len] = b',';
            len += 1;
        }
        len += write_decimal(&mut buffer[len..], id);
    }
    buffer[len] = b']';
    out.extend_from_slice(&buffer[..len + 1]);
}

/// Writes `n` in decimal at the start of `to`, which must have room for 20 digits plus 8
/// bytes of slack (the last write is a whole 8 bytes); returns the number of digits.
fn write_decimal(to: &mut [u8], n: u64) -> usize {
    const E8: u64 = 100_000_000;
    if n < E8 {
        return write_leading(to, n);
    }
    let (high, low) = (n / E8, n % E8);
    let mut len = if high < E8 {
        write_leading(to, high)
    } else {
        let top = write_leading(to, high / E8);
        write_eight(&mut to[top..], high % E8);
        top + 8
    };
    write_eight(&mut to[len..], low);
    len += 8;
    len
}

/// `n < 10^8` without leading zeros.
fn write_leading(to: &mut [u8], n: u64) -> usize {
    if n == 0 {
        to[0] = b'0';
        return 1;
    }
    let digits = eight_digits(n);
    // Leading zero digits are the low zero bytes (the first digit is the lowest byte).
    let zeros = (digits.trailing_zeros() / 8) as usize;
    let ascii = (digits | ASCII_ZEROS) >> (8 * zeros);
    to[..8].copy_from_slice(&ascii.to_le_bytes());
    8 - zeros
}

/// `n < 10^8` as exactly eight digits, zero-padded.
fn write_eight(to: &mut [u8], n: u64) {
    to[..8].copy_from_slice(&(eight_digits(n) | ASCII_ZEROS).to_le_bytes());
}

const ASCII_ZEROS: u64 = 0x3030_3030_3030_3030;

/// The eight decimal digits of `n < 10^8` as byte values 0..=9, most significant digit in
/// the lowest byte (so that little-endian bytes read in order).
fn eight_digits(n: u64) -> u64 {
    // Two 32-bit lanes: the first and last four digits.
    let fours = (n / 10_000) | ((n % 10_000) << 32);
    // Each lane v < 10^4 into two 16-bit lanes v / 100, v % 100 (v * 10486 >> 20 is
    // v / 100 for every v < 10^4; the products stay inside their lanes).
    let hundreds = ((fours * 10_486) >> 20) & 0x0000_007F_0000_007F;
    let twos = hundreds | ((fours - 100 * hundreds) << 16);
    // Each 16-bit lane w < 100 into two bytes w / 10, w % 10 (w * 103 >> 10 is w / 10).
    let tens = ((twos * 103) >> 10) & 0x000F_000F_000F_000F;
    tens | ((twos - 10 * tens) << 8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn written(ids: &[u64]) -> String {
        let mut out = b"prefix".to_vec();
        write_json_ids(&mut out, ids);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn eight_digit_arithmetic_is_exact_at_every_lane_boundary() {
        for n in [
            0, 1, 9, 10, 99, 100, 999, 1_000, 9_999, 10_000, 99_999_999, 12_345_678,
        ] {
            let mut to = [0u8; 28];
            write_eight(&mut to, n);
            assert_eq!(&to[..8], format!("{n:08}").as_bytes());
        }
        // Every value in both four-digit lanes, then a spread over the whole range.
        let both_lanes = (0..10_000).map(|v| v * 10_000 + (9_999 - v));
        for n in (0..10_000)
            .chain(both_lanes)
            .chain((0..100_000_000).step_by(9_973))
        {
            let mut to = [0u8; 28];
            let len = write_decimal(&mut to, n);
            assert_eq!(&to[..len], n.to_string().as_bytes());
        }
    }

    #[test]
    fn edges_match_serde_json() {
        for ids in [
            vec![],
            vec![0],
            vec![9, 10, 99, 100],
            vec![u64::MAX, 1, u64::MAX],
            vec![
                99_999_999,
                100_000_000,
                9_999_999_999_999_999,
                10_000_000_000_000_000,
            ],
            vec![
                10_000_000_000_000_000_000,
                100_000_001,
                1_000_000_000_000_000,
            ],
            vec![u64::MAX; 300],
        ] {
            let expected = format!("prefix{}", serde_json::to_string(&ids).unwrap());
            assert_eq!(written(&ids), expected);
        }
    }

    proptest! {
        #[test]
        fn any_list_is_written_as_serde_json_writes_it(
            ids in prop::collection::vec(any::<u64>(), 0..400),
        ) {
            prop_assert_eq!(
                written(&ids),
                format!("prefix{}", serde_json::to_string(&ids).unwrap())
            );
        }

        #[test]
        fn small_ids_too(ids in prop::collection::vec(0u64..100_000, 0..400)) {
            prop_assert_eq!(
                written(&ids),
                format!("prefix{}", serde_json::to_string(&ids).unwrap())
            );
        }
    }
}
