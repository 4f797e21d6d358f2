//! Central finite-difference coefficients (Fornberg) and the stability bound they imply.
//!
//! Second derivative: `f''(x) ≈ (a₀ f(x) + Σₖ aₖ (f(x+kh) + f(x−kh))) / h²`.
//! First derivative: `f'(x) ≈ Σₖ bₖ (f(x+kh) − f(x−kh)) / h`.
//!
//! The largest eigenvalue magnitude of the 1D second-difference operator is its symbol at
//! the Nyquist wavenumber, `|a₀ + 2 Σₖ (−1)ᵏ aₖ| / h²`; in 2D the two directions add.

/// Second-derivative coefficients `a₀..a₄` for space order 8.
pub const SECOND_8: [f32; 5] = [
    -205.0 / 72.0,
    8.0 / 5.0,
    -1.0 / 5.0,
    8.0 / 315.0,
    -1.0 / 560.0,
];
/// Second-derivative coefficients `a₀..a₂` for space order 4 (padded with zeros).
pub const SECOND_4: [f32; 5] = [-5.0 / 2.0, 4.0 / 3.0, -1.0 / 12.0, 0.0, 0.0];
/// First-derivative coefficients `b₁..b₄` for space order 8.
pub const FIRST_8: [f32; 4] = [4.0 / 5.0, -1.0 / 5.0, 4.0 / 105.0, -1.0 / 280.0];
/// First-derivative coefficients `b₁..b₂` for space order 4 (padded with zeros).
pub const FIRST_4: [f32; 4] = [2.0 / 3.0, -1.0 / 12.0, 0.0, 0.0];

/// Second-derivative coefficients for `space_order` (4 or 8; anything else gives order 8).
pub fn second(space_order: usize) -> [f32; 5] {
    if space_order == 4 {
        SECOND_4
    } else {
        SECOND_8
    }
}

/// First-derivative coefficients for `space_order` (4 or 8; anything else gives order 8).
pub fn first(space_order: usize) -> [f32; 4] {
    if space_order == 4 {
        FIRST_4
    } else {
        FIRST_8
    }
}

/// `|a₀ + 2 Σₖ (−1)ᵏ aₖ|`: the Nyquist symbol of the unit-spacing second difference.
pub fn nyquist_symbol(space_order: usize) -> f64 {
    let a = second(space_order);
    let mut s = a[0] as f64;
    let mut sign = -1.0f64;
    for &ak in &a[1..] {
        s += 2.0 * sign * ak as f64;
        sign = -sign;
    }
    s.abs()
}
