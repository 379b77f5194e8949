"""The benchmark cases.

Every case uses the Keras 3 defaults (preset ``keras3``): LSTM cells, ``tanh``
activation, ``sigmoid`` gates and a ``tanh`` Dense head.  Sigmoid gates (rather than
the paper's Keras 2 ``hard_sigmoid``) make every contender compute the same model:
onnxruntime's native ``LSTM`` operator and Keras both use them natively.  The weights
are Normal(0, 1), drawn by mae-ort's sampler from ``seed``; every contender gets the
very same weights (:meth:`mae_ort.Sampler.weights`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EUNITE_CSV = ROOT / "data" / "eunite-training.csv"
PRESET = "keras3"

#: Tolerances of the MAE check (max |dMAE| against mae-ort's onnxruntime runtime).
TOL_SMALL = 1e-4   # <= 2 layers and look-back <= 10: float32 implementations agree to ~1e-6
TOL_DEEP = 2e-3    # deeper or longer: float32 round-off grows through saturating gates


@dataclass(frozen=True)
class Case:
    """One architecture, look-back and series, sampled ``samples`` times from ``seed``."""

    key: str
    units: tuple
    look_back: int
    series: str = "sine"          # 'sine' (the paper's, 1000 points) or 'eunite'
    samples: int = 100
    seed: int = 0
    small: bool = False           # the Keras-evaluate (reference style) contender runs only on small cases

    @property
    def tol(self) -> float:
        return TOL_SMALL if (len(self.units) <= 2 and self.look_back <= 10) else TOL_DEEP

    @property
    def label(self) -> str:
        src = "sine" if self.series == "sine" else "EUNITE MaxLoads,Temperature→MaxLoads"
        return f"[{','.join(map(str, self.units))}] LB {self.look_back} ({src})"

    def arch(self):
        from mae_ort.model.architecture import preset

        return preset(PRESET, self.units)

    @classmethod
    def from_dict(cls, d: dict) -> "Case":
        return cls(d["key"], tuple(d["units"]), int(d["look_back"]), d.get("series", "sine"),
                   int(d.get("samples", 100)), int(d.get("seed", 0)), bool(d.get("small", False)))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["units"] = list(self.units)
        d["tol"] = self.tol
        d["label"] = self.label
        return d


@lru_cache(maxsize=None)
def series(kind: str):
    """The prepared :class:`mae_ort.data.Series` of a case."""
    from mae_ort.data import prepare, sine

    if kind == "sine":
        return prepare(sine(), name="sine")
    if kind == "eunite":
        return prepare(str(EUNITE_CSV), input=["MaxLoads", "Temperature"], target="MaxLoads", scale="minmax",
                       name="eunite-training.csv")
    raise ValueError(f"unknown series {kind!r}")


@lru_cache(maxsize=None)
def windows(kind: str, look_back: int):
    from mae_ort.data import windows as cut

    return cut(series(kind), look_back)


def weights(case: Case, samples: int | None = None):
    """The weights mae-ort's sampler draws for ``case`` (Keras order, ``(S, *shape)`` float32)."""
    from mae_ort.sampling.sampler import Sampler

    win = windows(case.series, case.look_back)
    return Sampler().weights(case.arch(), n_in=win.n_in, n_out=win.n_out,
                             samples=case.samples if samples is None else samples, seed=case.seed)


def gflop(case: Case, samples: int | None = None) -> float:
    """Useful product GFLOP of sampling ``case`` (the cost model of ``Architecture.flops``)."""
    win = windows(case.series, case.look_back)
    s = case.samples if samples is None else samples
    return case.arch().flops(win.n_in, win.n_out, win.look_back, win.n) * s / 1e9


def main_cases(samples: int = 100) -> list[Case]:
    """The cases of issue 5, plus the multivariate EUNITE case."""
    return [
        Case("lstm7_lb1", (7,), 1, samples=samples, small=True),
        Case("lstm20x2_lb10", (20, 20), 10, samples=samples, small=True),
        Case("lstm31_lb30", (31,), 30, samples=samples),
        Case("lstm31x2_lb30", (31, 31), 30, samples=samples),
        Case("lstm31x3_lb30", (31, 31, 31), 30, samples=samples),
        Case("eunite_20x10_lb7", (20, 10), 7, series="eunite", samples=samples, small=True),
    ]


def micro_cases(samples: int = 5) -> list[Case]:
    """Tiny cases for the tests."""
    return [
        Case("micro_lstm3_lb2", (3,), 2, samples=samples, small=True),
        Case("micro_lstm4x3_lb3", (4, 3), 3, samples=samples, small=True),
    ]


def throughput_slice(n: int = 50, seed: int = 2018, samples: int = 100) -> list[Case]:
    """``n`` architectures of the paper's two-layer space, picked with ``seed``.

    The space: 7..31 units in each of two layers, look-back in {1, 10, 20, 30}
    (2,500 points); picked without replacement, kept in the order drawn (a sweep
    in random order, as a screening run would visit them).
    """
    space = [(h1, h2, lb) for h1 in range(7, 32) for h2 in range(7, 32) for lb in (1, 10, 20, 30)]
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(space), size=min(n, len(space)), replace=False)
    return [Case(f"slice_{space[i][0]}x{space[i][1]}_lb{space[i][2]}", (space[i][0], space[i][1]), space[i][2],
                 samples=samples, seed=k) for k, i in enumerate(pick)]


def three_layer_slice(n: int = 2000, seed: int = 2018, samples: int = 100) -> list[Case]:
    """``n`` rows of the paper's three-layer space (7..31 units per layer, look-back in {1, 10, 20, 30};
    390,625 points), picked with ``seed`` without replacement, in the order drawn (bench/gpu.sh's sweep)."""
    lbs = (1, 10, 20, 30)
    total = 25 ** 3 * len(lbs)
    rng = np.random.default_rng(seed)
    pick = rng.choice(total, size=min(n, total), replace=False)
    out = []
    for k, i in enumerate(pick):
        i = int(i)
        lb = lbs[i % 4]
        i //= 4
        h3, i = 7 + i % 25, i // 25
        h2, h1 = 7 + i % 25, 7 + i // 25
        out.append(Case(f"slice3_{h1}x{h2}x{h3}_lb{lb}", (h1, h2, h3), lb, samples=samples, seed=k))
    return out
