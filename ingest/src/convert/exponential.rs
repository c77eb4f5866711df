//! Classic buckets of an OTLP exponential histogram point, with bounds computed the same way
//! on every platform.

use std::sync::OnceLock;

use opentelemetry_proto::tonic::metrics::v1::ExponentialHistogramDataPoint;

/// Fills `out` with the `(upper bound, cumulative count)` classic buckets of an exponential
/// histogram point, bounds strictly increasing and finite: negative buckets from the most
/// negative up, the zero bucket, then positive buckets.
pub(super) fn exponential_buckets(p: &ExponentialHistogramDataPoint, out: &mut Vec<(f64, u64)>) {
    out.clear();
    let mut cumulative = 0u64;
    let mut push = |bound: f64, count: u64, cumulative: &mut u64| {
        *cumulative = cumulative.saturating_add(count);
        // Bounds beyond f64's range fold into their neighbours (the +Inf bucket, or the zero
        // bucket for bounds that underflow); a bound at or below the previous one (a zero
        // threshold above the first positive bound) replaces it, as cumulative counts include
        // everything before.
        if !bound.is_finite() {
            return;
        }
        while out.last().is_some_and(|&(last, _)| last >= bound) {
            out.pop();
        }
        out.push((bound, *cumulative));
    };
    if let Some(neg) = &p.negative {
        for (i, &count) in neg.bucket_counts.iter().enumerate().rev() {
            // Negative bucket `index` holds values in [-base^(index+1), -base^index).
            let bound = -exp_base_pow(i64::from(neg.offset) + i as i64, p.scale);
            if bound == 0.0 {
                cumulative = cumulative.saturating_add(count);
                continue;
            }
            push(bound, count, &mut cumulative);
        }
    }
    push(p.zero_threshold, p.zero_count, &mut cumulative);
    if let Some(pos) = &p.positive {
        for (i, &count) in pos.bucket_counts.iter().enumerate() {
            // Positive bucket `index` holds values in (base^index, base^(index+1)].
            let bound = exp_base_pow(i64::from(pos.offset) + i as i64 + 1, p.scale);
            push(bound, count, &mut cumulative);
        }
    }
}

/// `base^exp` for the exponential histogram base `2^(2^-scale)`, that is `2^(exp / 2^scale)`.
///
/// Computed from IEEE square roots and exact powers of two only, so that every platform gets
/// the same bits (libm's `exp2` and `powf` are not guaranteed to): `le` values are part of the
/// series identity, and WAL replay must rebuild exactly the acknowledged series. `scale` is in
/// `-10..=20`.
fn exp_base_pow(exp: i64, scale: i32) -> f64 {
    if scale <= 0 {
        return exp2_int(exp.saturating_mul(1i64 << scale.unsigned_abs().min(62)));
    }
    let s = scale.unsigned_abs().min(20);
    let whole = exp >> s;
    let frac = exp & ((1i64 << s) - 1);
    let roots = roots_of_two();
    let mut f = 1.0;
    for j in 1..=s {
        // Bit `s - j` of `frac` stands for 2^(2^-j).
        if (frac >> (s - j)) & 1 == 1 {
            f *= roots[j as usize];
        }
    }
    f * exp2_int(whole)
}

/// `2^(2^-j)` for `j` in `0..=20`, by repeated square roots of 2.
fn roots_of_two() -> &'static [f64; 21] {
    static ROOTS: OnceLock<[f64; 21]> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut r = [2.0f64; 21];
        for j in 1..r.len() {
            r[j] = r[j - 1].sqrt();
        }
        r
    })
}

/// `2^k` exactly, saturating to infinity and zero.
fn exp2_int(k: i64) -> f64 {
    if k > 1023 {
        f64::INFINITY
    } else if k >= -1022 {
        f64::from_bits(((k + 1023) as u64) << 52)
    } else if k >= -1074 {
        f64::from_bits(1u64 << (k + 1074))
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn powers_of_the_base_are_exact_where_they_can_be() {
        assert_eq!(exp_base_pow(0, 0), 1.0);
        assert_eq!(exp_base_pow(3, 0), 8.0);
        assert_eq!(exp_base_pow(-2, 0), 0.25);
        assert_eq!(exp_base_pow(1, -1), 4.0);
        assert_eq!(exp_base_pow(-1, -2), 1.0 / 16.0);
        assert_eq!(exp_base_pow(1, 1), std::f64::consts::SQRT_2);
        assert_eq!(exp_base_pow(2, 1), 2.0);
        assert_eq!(exp_base_pow(-1, 1), std::f64::consts::FRAC_1_SQRT_2);
        assert_eq!(exp_base_pow(4, 2), 2.0);
        assert_eq!(exp_base_pow(2000, 0), f64::INFINITY);
        assert_eq!(exp_base_pow(-1074, 0), f64::from_bits(1));
        assert_eq!(exp_base_pow(-2000, 0), 0.0);
        for scale in 1..=20 {
            for exp in [-1000i64, -7, -1, 1, 5, 12345, 1 << 40, -(1 << 40)] {
                let want = (exp as f64 / f64::from(1u32 << scale)).exp2();
                let got = exp_base_pow(exp, scale);
                if want == 0.0 || want.is_infinite() {
                    assert_eq!(got, want, "{exp} {scale}");
                } else {
                    assert!(
                        ((got - want) / want).abs() < 1e-14,
                        "{exp} {scale}: {got} vs {want}"
                    );
                }
            }
        }
    }
}
