"""Mutation check of the pinned bounds: apply each mutant to ``bounds/``, run ``tests/test_bounds_pinned.py``, revert.

Not collected by pytest (a script): ``python tests/mutate_bounds.py [LABEL ...]`` prints KILLED or SURVIVED per
mutant and exits non-zero if one survives. Each mutant changes one constant or exponent of a bound (issue 10:
Theorem 1's 20 -> 2, Theorem 2's 30 -> 3, SQIRL's T^3 -> T^2, and every other constant in ``bounds/`` except
``effective_horizon.py``). A mutant whose text no longer matches is reported as SKIP (update the table).
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

root = pathlib.Path(__file__).resolve().parents[1]
M = [  # (file, text, mutant, label)
 ("bounds/ucbvi.py", "20.0 * H * L", "2.0 * H * L", "Thm1 20->2"),
 ("bounds/ucbvi.py", "250.0 * H ** 2", "25.0 * H ** 2", "Thm1 250->25"),
 ("bounds/ucbvi.py", "30.0 * L * np.sqrt", "3.0 * L * np.sqrt", "Thm2 30->3"),
 ("bounds/ucbvi.py", "2500.0 * H ** 2", "250.0 * H ** 2", "Thm2 2500->250"),
 ("bounds/ucbvi.py", "4.0 * H * np.sqrt(T * L)", "0.4 * H * np.sqrt(T * L)", "Thm2 4->0.4"),
 ("bounds/ucbvi.py", "np.log(5.0 * H * S", "np.log(4.0 * H * S", "L 5->4"),
 ("bounds/ucbvi.py", "np.log(5.0 * H * S * A * (K * H)", "np.log(5.0 * S * A * (K * H)", "L drop extra H"),
 ("bounds/ucbvi.py", "1.0 / (48.0 * np.sqrt(6.0))", "1.0 / (4.8 * np.sqrt(6.0))", "lower 48->4.8"),
 ("bounds/ucbvi.py", "np.sqrt(6.0))", "np.sqrt(5.0))", "lower sqrt6->sqrt5"),
 ("bounds/ucbvi.py", "np.sqrt(H ** 3 * S * A * K)", "np.sqrt(H ** 2 * S * A * K)", "lower H^3->H^2"),
 ("bounds/ucbvi.py", "return S * H if stage_dependent else S", "return S if stage_dependent else S", "S'=SH -> S"),
 ("bounds/sqirl.py", "T ** 3 * np.power", "T ** 2 * np.power", "SQIRL T^3->T^2"),
 ("bounds/sqirl.py", "SQIRL_CONSTANT = 1.0", "SQIRL_CONSTANT = 2.0", "SQIRL C 1->2"),
 ("bounds/sqirl.py", "np.log(1.0 / delta) / epsilon", "np.log(2.0 / delta) / epsilon", "SQIRL ln(1/d)->ln(2/d)"),
 ("bounds/sqirl.py", "return T * np.power(A, H_k)", "return np.power(A, H_k)", "GORP drop T"),
 ("bounds/sqirl.py", "np.ceil(sqirl_episodes", "np.floor(sqirl_episodes", "SQIRL ceil->floor"),
 ("bounds/stepmix.py", "UNKNOWN_C1 = 1.0", "UNKNOWN_C1 = 2.0", "StepMix C1 1->2"),
 ("bounds/stepmix.py", "UNKNOWN_C2 = 1.0", "UNKNOWN_C2 = 2.0", "StepMix C2 1->2"),
 ("bounds/stepmix.py", "np.log(S * A * H * K / delta)", "np.log(S * A * K / delta)", "iota drop H"),
 ("bounds/stepmix.py", "np.sqrt(H ** 3 * S * A * K", "np.sqrt(H ** 2 * S * A * K", "lead H^3->H^2"),
 ("bounds/stepmix.py", "c2 * H ** 3 * S ** 2 * A", "c2 * H ** 2 * S ** 2 * A", "lower-order H^3->H^2"),
 ("bounds/stepmix.py", "(1.0 - alpha) ** (1.0 / H)", "(1.0 - alpha) ** (2.0 / H)", "safe floor 1/H->2/H"),
 ("bounds/stepmix.py", "return K * (gap + alpha * v_b)", "return K * (gap + 0.5 * alpha * v_b)", "safe cap alpha/2"),
 ("bounds/nash_mp.py", "QUERIES_PER_ITERATION = 2", "QUERIES_PER_ITERATION = 1", "queries 2->1"),
 ("bounds/nash_mp.py", "def contraction(beta, eta=2.0)", "def contraction(beta, eta=1.0)", "default eta 2->1"),
 ("bounds/nash_mp.py", "return (1.0 + eta / 2.0) / (1.0", "return (1.0 + eta / 4.0) / (1.0", "c_h 1/2->1/4"),
 ("bounds/nash_mp.py", "np.sqrt(2.0 * c_h * kl0)", "np.sqrt(1.0 * c_h * kl0)", "span sqrt(2..)->sqrt(1..)"),
 ("bounds/nash_mp.py", "(q ** -0.5 - 1)", "(q ** -1.0 - 1)", "span q^-1/2 -> q^-1"),
 ("bounds/nash_mp.py", "/ (4.0 * beta) + beta", "/ (2.0 * beta) + beta", "expl 4beta->2beta"),
 ("bounds/nash_mp.py", "np.minimum(S, np.expm1(S) ** 2)", "np.minimum(S, np.expm1(S) ** 1)", "expl (e^s-1)^2 -> ^1"),
 ("bounds/nash_mp.py", "return 8.0 / (", "return 4.0 / (", "Nash-MD 8->4"),
 ("bounds/nash_mp.py", "+ 2.0 * e * e", "+ 1.0 * e * e", "Nash-MD rec 2->1"),
 ("bounds/nash_mp.py", "out[..., t - 1] * q + delta[..., t]", "out[..., t - 1] * q + 0.5 * delta[..., t]",
  "inexact delta/2"),
 ("bounds/nash_mp.py", "return kl0 * q ** N", "return kl0 * q ** (N / 2)", "MMD N->N/2"),
]
only = sys.argv[1:]
survived = 0
for f, old, new, label in M:
    if only and label not in only:
        continue
    p = root / f
    src = p.read_text()
    n = src.count(old)
    if n != 1:
        print(f"SKIP ({n} matches) {label}", flush=True)
        continue
    p.write_text(src.replace(old, new))
    try:
        r = subprocess.run([sys.executable, "-m", "pytest", "tests/test_bounds_pinned.py", "-x", "-q",
                            "-p", "no:cacheprovider"], cwd=root, capture_output=True, text=True, timeout=600)
    finally:
        p.write_text(src)
    survived += r.returncode == 0
    print(("KILLED  " if r.returncode != 0 else "SURVIVED") + f" {label}", flush=True)
sys.exit(1 if survived else 0)
