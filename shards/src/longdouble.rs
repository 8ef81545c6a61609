//! Exact emulation of the x87 80-bit `long double` arithmetic Redis uses for INCRBYFLOAT:
//! `strtold` (correctly rounded to a 64-bit mantissa), one addition (rounded to a 64-bit
//! mantissa, ties to even), and `printf("%.17Lf")` with trailing zeros removed. Rust has no
//! 80-bit float and f64 would lose digits (9223372036854775807 + 1.5), so the values are kept
//! as `m × 2^e` with exact big-integer arithmetic.

use num_bigint::BigUint;
use num_integer::Integer;

/// `(-1)^neg × m × 2^e`, with `2^63 <= m < 2^64` (or m = 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LongDouble {
    neg: bool,
    m: u64,
    e: i32,
}

/// Exponent range kept (x87 allows ±16383; beyond this the value is not worth emulating).
const MAX_EXP: i32 = 4000;

fn pow2(n: u32) -> BigUint {
    BigUint::from(1u8) << n
}

/// Rounds `num / den × 2^shift` to a 64-bit mantissa, ties to even.
fn round(neg: bool, num: BigUint, den: BigUint, shift: i32) -> Option<LongDouble> {
    if num.bits() == 0 {
        return Some(LongDouble { neg, m: 0, e: 0 });
    }
    // Choose e so that 2^63 <= num / den / 2^e < 2^64.
    let mut e = num.bits() as i64 - den.bits() as i64 - 63;
    loop {
        let (n, d) = if e >= 0 {
            (num.clone(), &den << e as u32)
        } else {
            (&num << (-e) as u32, den.clone())
        };
        let (q, r) = n.div_rem(&d);
        if q.bits() > 64 {
            e += 1;
            continue;
        }
        if q.bits() < 64 {
            e -= 1;
            continue;
        }
        let mut m: u64 = q.try_into().ok()?;
        let twice = r << 1u8;
        let up = twice > d || (twice == d && m & 1 == 1);
        if up {
            match m.checked_add(1) {
                Some(v) => m = v,
                None => {
                    m = 1 << 63;
                    e += 1;
                }
            }
        }
        let e = e + shift as i64;
        if e.abs() > MAX_EXP as i64 {
            return None;
        }
        return Some(LongDouble {
            neg,
            m,
            e: e as i32,
        });
    }
}

impl LongDouble {
    /// Parses `[-+]digits[.digits][(e|E)[-+]digits]` as `strtold` would (correctly rounded).
    /// None for forms this emulation does not cover (hex floats, inf/nan, huge exponents).
    pub fn parse(b: &[u8]) -> Option<LongDouble> {
        let s = std::str::from_utf8(b).ok()?;
        let (mant, exp) = match s.find(['e', 'E']) {
            Some(i) => (&s[..i], s[i + 1..].parse::<i32>().ok()?),
            None => (s, 0),
        };
        let (neg, mant) = match mant.as_bytes().first()? {
            b'-' => (true, &mant[1..]),
            b'+' => (false, &mant[1..]),
            _ => (false, mant),
        };
        let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
        if (int.is_empty() && frac.is_empty()) || int.len() + frac.len() > 400 {
            return None;
        }
        if !int.bytes().chain(frac.bytes()).all(|c| c.is_ascii_digit()) {
            return None;
        }
        let digits = BigUint::parse_bytes(format!("{int}{frac}").as_bytes(), 10)?;
        let exp10 = exp.checked_sub(frac.len() as i32)?;
        if exp10.abs() > 1000 {
            return None;
        }
        let (num, den) = if exp10 >= 0 {
            (
                digits * BigUint::from(10u8).pow(exp10 as u32),
                BigUint::from(1u8),
            )
        } else {
            (digits, BigUint::from(10u8).pow((-exp10) as u32))
        };
        round(neg, num, den, 0)
    }

    /// The correctly rounded sum.
    pub fn checked_add(self, o: LongDouble) -> Option<LongDouble> {
        let emin = self.e.min(o.e);
        let a = BigUint::from(self.m) << (self.e - emin) as u32;
        let b = BigUint::from(o.m) << (o.e - emin) as u32;
        let (neg, mag) = match (self.neg, o.neg) {
            (x, y) if x == y => (x, a + b),
            (x, _) => {
                if a >= b {
                    (x, a - b)
                } else {
                    (!x, b - a)
                }
            }
        };
        round(neg && mag.bits() > 0, mag, BigUint::from(1u8), emin)
    }

    /// `%.17Lf` with trailing zeros (and a trailing dot) removed, `-0` as `0`: Redis's
    /// `ld2string(…, LD_STR_HUMAN)`.
    pub fn to_human(self) -> String {
        let ten17 = BigUint::from(10u8).pow(17);
        let scaled = BigUint::from(self.m) * &ten17;
        let q = if self.e >= 0 {
            scaled << self.e as u32
        } else {
            let d = pow2((-self.e) as u32);
            let (q, r) = scaled.div_rem(&d);
            let twice = r << 1u8;
            if twice > d || (twice == d && q.is_odd()) {
                q + 1u8
            } else {
                q
            }
        };
        let (int, frac) = q.div_rem(&ten17);
        let mut s = String::new();
        if self.neg {
            s.push('-');
        }
        s.push_str(&int.to_string());
        let f = format!("{:0>17}", frac.to_string());
        let f = f.trim_end_matches('0');
        if !f.is_empty() {
            s.push('.');
            s.push_str(f);
        }
        if s == "-0" {
            s = "0".into();
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::LongDouble;

    fn sum(a: &str, b: &str) -> String {
        let x = LongDouble::parse(a.as_bytes()).expect("a");
        let y = LongDouble::parse(b.as_bytes()).expect("b");
        x.checked_add(y).expect("sum").to_human()
    }

    #[test]
    fn matches_redis_incrbyfloat() {
        // Expected values from redis-server 7 (x86-64, 80-bit long double).
        assert_eq!(sum("10.50", "0.1"), "10.6");
        assert_eq!(sum("5.0e3", "2.0e2"), "5200");
        assert_eq!(sum("9223372036854775807", "3.5"), "9223372036854775810");
        assert_eq!(sum("3.5", "9223372036854775807"), "9223372036854775810");
        assert_eq!(sum("9223372036854775807", "0"), "9223372036854775807");
        assert_eq!(sum("1000000000000000000", "0.1"), "1000000000000000000.125");
        assert_eq!(sum("-7", "3.5"), "-3.5");
        assert_eq!(sum("0", "-0"), "0");
        assert_eq!(sum("1", "-1"), "0");
        assert_eq!(sum("0.1", "0.2"), "0.3");
        assert_eq!(
            sum("123456789.123456789", "0.000000001"),
            "123456789.12345678999554366"
        );
        assert_eq!(sum("-0.0", "0"), "0");
        assert_eq!(sum("3.5", "-3.5"), "0");
        assert_eq!(
            sum("1e300", "1"),
            "1000000000000000000008997324079559193870523944273290747938260082321265646596180935755849152083750497190350372508614274835903592556184672983913096260520748646287327135641843653294084255107606016789726652932370030551382947620994540294772781889620606179267611627097410650567187386105690089424915104006144"
        );
    }

    #[test]
    fn rejects_forms_it_does_not_model() {
        for s in ["", "abc", "0x10", "inf", "1e99999", "1.2.3", "--1"] {
            assert!(LongDouble::parse(s.as_bytes()).is_none(), "{s}");
        }
    }
}
