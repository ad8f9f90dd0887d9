//! The drift measures, in f64 (computed on demand, not per prediction).

/// Smoothing added to both proportions inside the logarithm of the PSI, so that an
/// empty bin gives a large but finite term: `ln((a + ε) / (e + ε))`.
pub const PSI_EPSILON: f64 = 1e-4;

/// Population Stability Index of observed counts `obs` against baseline counts
/// `base` (same categories, in order):
/// `Σ (a_k − e_k) · ln((a_k + ε) / (e_k + ε))` with `a_k = obs_k / Σ obs`,
/// `e_k = base_k / Σ base`, ε = [`PSI_EPSILON`]. 0 when either side is empty.
pub fn psi(base: impl Iterator<Item = u32> + Clone, obs: impl Iterator<Item = u32> + Clone) -> f64 {
    let m: u64 = base.clone().map(u64::from).sum();
    let n: u64 = obs.clone().map(u64::from).sum();
    if m == 0 || n == 0 {
        return 0.0;
    }
    let (m, n) = (m as f64, n as f64);
    base.zip(obs)
        .map(|(b, o)| {
            let e = b as f64 / m;
            let a = o as f64 / n;
            (a - e) * libm::log((a + PSI_EPSILON) / (e + PSI_EPSILON))
        })
        .sum()
}

/// The G-test of homogeneity between two samples over the same categories: the
/// statistic `G = 2 Σ O ln(O / E)` over the 2 × k table (expected counts from the
/// pooled proportions; categories empty in both samples left out), its degrees of
/// freedom (non-empty categories − 1) and the p-value `P(χ²_dof ≥ G)`.
/// `(0, 0, 1)` when either sample is empty or only one category is used.
pub fn g_test(
    base: impl Iterator<Item = u32> + Clone,
    obs: impl Iterator<Item = u32> + Clone,
) -> (f64, u32, f64) {
    let m: u64 = base.clone().map(u64::from).sum();
    let n: u64 = obs.clone().map(u64::from).sum();
    if m == 0 || n == 0 {
        return (0.0, 0, 1.0);
    }
    let total = (m + n) as f64;
    let (m, n) = (m as f64, n as f64);
    let term = |o: f64, e: f64| if o > 0.0 { o * libm::log(o / e) } else { 0.0 };
    let mut g = 0.0;
    let mut used = 0u32;
    for (b, o) in base.zip(obs) {
        let c = b as f64 + o as f64;
        if c == 0.0 {
            continue;
        }
        used += 1;
        g += term(b as f64, m * c / total) + term(o as f64, n * c / total);
    }
    let g = (2.0 * g).max(0.0);
    if used < 2 {
        return (g, 0, 1.0);
    }
    let dof = used - 1;
    (g, dof, chi2_sf(g, dof))
}

/// `P(χ²_k ≥ x)`: the regularized upper incomplete gamma function `Q(k/2, x/2)`.
pub fn chi2_sf(x: f64, k: u32) -> f64 {
    if x <= 0.0 || k == 0 {
        return 1.0;
    }
    gamma_q(k, x / 2.0).clamp(0.0, 1.0)
}

/// `ln Γ(k/2)` for an integer `k ≥ 1`, exactly from its product form: `Γ(m) = (m − 1)!`,
/// `Γ(m + ½) = √π · Π_{i=1..m} (i − ½)` (no general log-gamma needed).
fn ln_gamma_half(k: u32) -> f64 {
    let (mut acc, start) = if k % 2 == 0 {
        (0.0, 1.0)
    } else {
        (0.5 * libm::log(core::f64::consts::PI), 0.5)
    };
    let mut v = start;
    while v + 0.25 < k as f64 / 2.0 {
        acc += libm::log(v);
        v += 1.0;
    }
    acc
}

/// Regularized upper incomplete gamma `Q(a, x)` for `a = k/2`, x ≥ 0: the series for
/// `x < a + 1`, Lentz's continued fraction otherwise (Numerical Recipes §6.2).
fn gamma_q(k: u32, x: f64) -> f64 {
    const EPS: f64 = 1e-15;
    const TINY: f64 = 1e-300;
    let a = k as f64 / 2.0;
    let ln_front = a * libm::log(x) - x - ln_gamma_half(k);
    if x < a + 1.0 {
        let (mut ap, mut del) = (a, 1.0 / a);
        let mut sum = del;
        for _ in 0..1000 {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if del.abs() < sum.abs() * EPS {
                break;
            }
        }
        1.0 - sum * libm::exp(ln_front)
    } else {
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / TINY;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..1000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < TINY {
                d = TINY;
            }
            c = b + an / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < EPS {
                break;
            }
        }
        libm::exp(ln_front) * h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chi2_sf_matches_closed_forms() {
        // k = 2: exp(-x/2); k = 1: erfc(sqrt(x/2)); k = 4: (1 + x/2) exp(-x/2).
        for &x in &[0.01, 0.5, 1.0, 3.0, 7.5, 20.0, 60.0] {
            let k2 = libm::exp(-x / 2.0);
            assert!(
                (chi2_sf(x, 2) - k2).abs() < 1e-12 * k2.max(1e-300) + 1e-15,
                "{x}"
            );
            let k1 = libm::erfc(libm::sqrt(x / 2.0));
            assert!((chi2_sf(x, 1) - k1).abs() < 1e-10 * k1 + 1e-15, "{x}");
            let k4 = (1.0 + x / 2.0) * libm::exp(-x / 2.0);
            assert!((chi2_sf(x, 4) - k4).abs() < 1e-10 * k4 + 1e-15, "{x}");
        }
    }

    #[test]
    fn ln_gamma_half_matches_known_values() {
        // Γ(1/2) = √π, Γ(1) = 1, Γ(3/2) = √π / 2, Γ(5) = 24, Γ(11/2) = 945 √π / 32.
        let pi = core::f64::consts::PI;
        for (k, g) in [
            (1, pi.sqrt()),
            (2, 1.0),
            (3, pi.sqrt() / 2.0),
            (10, 24.0),
            (11, 945.0 * pi.sqrt() / 32.0),
        ] {
            assert!((ln_gamma_half(k) - libm::log(g)).abs() < 1e-13, "k = {k}");
        }
    }

    #[test]
    fn psi_of_equal_distributions_is_zero_and_hand_example() {
        let a = [10u32, 20, 30, 40];
        assert_eq!(psi(a.iter().copied(), a.iter().copied()), 0.0);
        // Hand computation: e = (0.5, 0.5), a = (0.25, 0.75).
        let want = (0.25 - 0.5) * libm::log((0.25 + PSI_EPSILON) / (0.5 + PSI_EPSILON))
            + (0.75 - 0.5) * libm::log((0.75 + PSI_EPSILON) / (0.5 + PSI_EPSILON));
        let got = psi([5u32, 5].into_iter(), [1u32, 3].into_iter());
        assert!((got - want).abs() < 1e-15);
    }
}
