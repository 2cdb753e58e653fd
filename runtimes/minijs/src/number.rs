//! JavaScript's number-to-string conversions (`Number::toString`, `toFixed`).

/// `String(x)` for a number: the shortest digits that round-trip (Rust's
/// `{:e}` gives them), laid out by ECMA-262's Number::toString rules.
pub fn to_js_string(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x == 0.0 {
        return "0".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    if x < 0.0 {
        return format!("-{}", to_js_string(-x));
    }
    let e = format!("{x:e}");
    let (mantissa, exp) = e.split_once('e').expect("LowerExp always has an exponent");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let exp: i64 = exp.parse().expect("LowerExp exponent is an integer");
    let k = digits.len() as i64;
    let n = exp + 1;
    if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let sign = if n - 1 < 0 { '-' } else { '+' };
        let rest = if k > 1 { format!(".{}", &digits[1..]) } else { String::new() };
        format!("{}{rest}e{sign}{}", &digits[..1], (n - 1).abs())
    }
}

/// `x.toFixed(digits)`. Rust rounds the exact binary value to nearest,
/// ties to even; ECMA-262 picks the larger on an exact tie, which only a
/// value exactly halfway (a short binary fraction) can meet.
pub fn to_fixed(x: f64, digits: usize) -> String {
    if !x.is_finite() || x.abs() >= 1e21 {
        return to_js_string(x);
    }
    let s = format!("{x:.digits$}");
    // An exact tie rounded down to even: redo it upward as ECMA-262 asks.
    let scaled = x.abs() * 10f64.powi(digits as i32);
    if digits <= 15 && scaled.fract() == 0.5 {
        let up = (scaled.trunc() + 1.0) / 10f64.powi(digits as i32);
        let up = if x < 0.0 { -up } else { up };
        return format!("{up:.digits$}");
    }
    s
}

/// `parseInt(s, 10)`: leading whitespace, a sign, then decimal digits.
pub fn parse_int(s: &str) -> f64 {
    let t = s.trim_start();
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let end = t.bytes().position(|b| !b.is_ascii_digit()).unwrap_or(t.len());
    if end == 0 {
        return f64::NAN;
    }
    let v: f64 = t[..end].parse().unwrap_or(f64::NAN);
    if neg {
        -v
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_to_string_follows_ecma262() {
        assert_eq!(to_js_string(1.0), "1");
        assert_eq!(to_js_string(-2.5), "-2.5");
        assert_eq!(to_js_string(0.1), "0.1");
        assert_eq!(to_js_string(1e21), "1e+21");
        assert_eq!(to_js_string(123456789012345680000.0), "123456789012345680000");
        assert_eq!(to_js_string(1.5e-7), "1.5e-7");
        assert_eq!(to_js_string(0.000001), "0.000001");
        assert_eq!(to_js_string(0.7654321098765432), "0.7654321098765432");
        assert_eq!(to_js_string(f64::NAN), "NaN");
    }

    #[test]
    fn to_fixed_rounds_ties_up() {
        assert_eq!(to_fixed(2.5, 0), "3");
        assert_eq!(to_fixed(1.005, 2), "1.00");
        assert_eq!(to_fixed(12.34567, 3), "12.346");
        assert_eq!(to_fixed(-0.5, 0), "-1");
    }

    #[test]
    fn parse_int_reads_a_decimal_prefix() {
        assert_eq!(parse_int(" 42px"), 42.0);
        assert_eq!(parse_int("-7"), -7.0);
        assert!(parse_int("x").is_nan());
    }
}
