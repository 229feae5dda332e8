"""Coefficients of `ultrares_nn::activation`'s exact-GELU host kernel.

erf(t) = t · P(u) for |t| ≤ T (and ±1 beyond: 1 − erf(4.5) = 2.0e-10), with
u = 2 t²/T² − 1 ∈ [−1, 1] and P a degree-20 polynomial: the Chebyshev least-squares fit of
erf(t)/t (an entire function of t², computed with mpmath at 30 digits) on 4,000 Chebyshev nodes,
converted to monomials in u (largest |coefficient| 0.31, so Horner in f64 is well conditioned).

Max |erf − t·P| on a 30,001-point grid of [0, 6] is printed (4.5e-10: the clamp at T).

    python tools/fit/erf_poly.py      # numpy 2.x, mpmath 1.3
"""
import mpmath as mp
import numpy as np
from numpy.polynomial import chebyshev as C

mp.mp.dps = 30
T, DEG, NODES = 4.5, 20, 4000
u = np.cos(np.pi * (np.arange(NODES) + 0.5) / NODES)
s = (u + 1) / 2 * T * T
f = np.array([float(mp.erf(mp.sqrt(x)) / mp.sqrt(x)) for x in s])
m = C.cheb2poly(C.chebfit(u, f, DEG))

tt = np.linspace(0, 6, 30001)
tc = np.minimum(tt, T)
uu = 2 * tc * tc / (T * T) - 1
p = np.zeros_like(uu)
for a in m[::-1]:
    p = p * uu + a
err = np.max(np.abs(tc * p - np.array([float(mp.erf(x)) for x in tt])))
print(f"// max |erf(t) − t·P(u)| on [0, 6]: {err:.2e}")
print(f"const ERF_T: f64 = {T};")
print(f"const ERF_P: [f64; {DEG + 1}] = [")
for a in m:
    print(f"    {float(a)!r},")
print("];")
