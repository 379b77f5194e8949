"""Table 4's measured jobs: each training and each sampling of an architecture in a fresh Python process.

:func:`measure_costs` runs one job per process (:func:`_run_child` starts ``python -c`` running
:func:`_child_main`, which reads the job as JSON on stdin and prints its seconds and peak resident set size) and
reads the process's wall time, so the figures include what the process imports (TensorFlow for training,
onnxruntime/Numba for sampling), as the paper's did; :func:`measure_table4` measures a database's trained
architectures and stores the costs.  The report (:mod:`.report`) shows them.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time

from .._checks import check_int, check_option
from .._system import peak_rss_bytes, thread_environment
from ..errors import MaeOrtError

__all__ = ["measure_costs", "measure_table4"]


# -- Table 4 --------------------------------------------------------------------------------
def _child_main() -> None:  # pragma: no cover - runs in a child process
    """Run one measured job described by JSON on stdin; print JSON with seconds and peak RSS."""
    job = json.loads(sys.stdin.read())
    t0 = time.perf_counter()
    from ..data import split_from_spec
    from ..model.architecture import Architecture
    from .train import TrainSettings, train

    split = split_from_spec(job["split"])
    arch = Architecture(**job["arch"])
    t1 = time.perf_counter()
    if job["kind"] == "training":
        settings = TrainSettings(**job.get("settings", {}))
        train(split, arch, look_back=job["look_back"], epochs=job["epochs"], seed=job.get("seed", 0),
              settings=settings, recursive=False)
    else:
        from ..sampling import sample

        series = split.test if job.get("sample_on") == "test" else split.train
        sample(series, arch=arch, look_back=job["look_back"], **job.get("sampling", {}))
    work = time.perf_counter() - t1
    print(json.dumps({"work_seconds": work, "setup_seconds": t1 - t0, "peak_rss_bytes": peak_rss_bytes()}))


def _run_child(job: dict, *, threads: int | None, timeout: float | None) -> dict:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if threads:
        env.update(thread_environment(threads))
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", "from mae_ort.study.jobs import _child_main; _child_main()"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    try:
        out, err = proc.communicate(json.dumps(job), timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise MaeOrtError(f"the measured {job['kind']} run took longer than {timeout} s") from None
    except BaseException:  # Ctrl-C, SIGTERM: the measured process goes too
        proc.kill()
        proc.communicate()
        raise
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        last = (err.strip().splitlines() or ["(no output)"])[-1]
        raise MaeOrtError(f"the measured {job['kind']} run failed: {last}")
    res = json.loads(out.strip().splitlines()[-1])
    res["process_seconds"] = wall
    return res


def measure_costs(split_spec: dict, arch, *, look_back: int, epochs: int = 1000, samples: int = 100, seed: int = 0,
                  settings: dict | None = None, sampling: dict | None = None, sample_on: str = "train",
                  threads: int | None = None, timeout: float | None = None,
                  kinds=("training", "sampling")) -> list[dict]:
    """Measure training and sampling of one architecture, each in a fresh process (Table 4).

    Parameters
    ----------
    split_spec : dict
        The split (:attr:`mae_ort.study.train.TrainTestSplit.spec`).
    arch : Architecture or dict
    look_back, epochs, samples, seed : int
        Training runs for ``epochs`` epochs (early stopping as ``settings``);
        sampling draws ``samples`` weight samples.
    settings, sampling : dict, optional
        Keyword arguments of :class:`~mae_ort.study.train.TrainSettings` and of
        :func:`mae_ort.sample` (threshold, lower, upper, fit, init, runtime ...).
    threads : int, optional
        Thread limit of both processes (default: all cores).
    kinds : sequence of {'training', 'sampling'}
        Which of the two to measure.

    Returns
    -------
    list of dict
        Two rows (``kind`` = ``training``, ``sampling``) with ``work_seconds`` (the
        job itself), ``process_seconds`` (the whole process, imports included) and
        ``peak_rss_bytes`` (the process's peak resident set size).
    """
    from ..model.architecture import Architecture

    arch_d = arch.to_dict() if isinstance(arch, Architecture) else dict(arch)
    look_back = check_int(look_back, "look_back", "measure_costs", low=1)
    epochs = check_int(epochs, "epochs", "measure_costs", low=1)
    samples = check_int(samples, "samples", "measure_costs", low=2)
    sample_on = check_option(sample_on, "sample_on", "measure_costs", ("train", "test"))
    base = {"split": split_spec, "arch": arch_d, "look_back": look_back, "seed": seed}
    rows = []
    for kind, extra in (("training", {"epochs": epochs, "settings": settings or {}}),
                        ("sampling", {"sampling": {"samples": samples, "seed": seed, **(sampling or {})},
                                      "sample_on": sample_on})):
        if kind not in kinds:
            continue
        res = _run_child({**base, "kind": kind, **extra}, threads=threads, timeout=timeout)
        units = ",".join(map(str, arch_d["units"]))
        rows.append({"kind": kind, "units": units, "look_back": look_back,
                     "epochs": epochs if kind == "training" else None,
                     "samples": samples if kind == "sampling" else None, **res})
    return rows


def measure_table4(db, *, count: int = 3, epochs: int | None = None, threads: int | None = None,
                   where: dict | None = None, seed: int = 0, progress=None) -> int:
    """Measure Table 4 for ``count`` trained architectures of ``db`` and store the results.

    Architectures are picked with :func:`mae_ort.study.validation.pick_rows` (spread over
    the depths present) among those not yet measured with ``epochs``; training
    uses the stored training settings and data, sampling the screened row's
    settings.  Returns the number of architectures measured now.
    """
    import pandas as pd

    from ..model.architecture import Architecture
    from .validation import joined, load_costs, pick_rows, save_costs

    count = check_int(count, "count", "measure_table4", low=1)
    df = joined(db, **(where or {}))
    if df.empty:
        raise MaeOrtError(f"{db}: no trained architectures to measure; run `mae-ort validate --db {db}` first")
    epochs = int(df.max_epochs.max()) if epochs is None else check_int(epochs, "epochs", "measure_table4", low=1)
    costs = load_costs(db)
    measured = set(costs[(costs.kind == "training") & (costs.epochs == epochs)].sampling_id.dropna().astype(int))
    rows = df.drop_duplicates("sampling_id")
    rows = rows[~rows.sampling_id.isin(measured)]
    depths = sorted(set(int(d) for d in rows.depth))
    already = len(measured & set(df.sampling_id.astype(int)))
    want = max(0, count - already)
    if not want or rows.empty:
        return 0
    per = max(1, math.ceil(want / max(1, len(depths))))
    chosen = pd.concat([pick_rows(rows[rows.depth == d], min(per, int((rows.depth == d).sum())), seed=seed)
                        for d in depths]).head(want)
    done = 0
    for r in chosen.itertuples():
        split = json.loads(r.split)
        spec = split.get("spec") or {}
        if not spec:
            raise MaeOrtError("the trained rows do not say how to rebuild their data (a split built by hand); "
                              "Table 4 needs a sine or CSV split")
        arch = Architecture.from_row(r).to_dict()
        sampling = {"threshold": float(r.threshold), "lower": float(r.lower), "upper": float(r.upper),
                    "fit": r.fit, "init": r.init}
        res = measure_costs(spec, arch, look_back=int(r.look_back), epochs=epochs, samples=int(r.samples),
                            seed=int(r.seed), settings=json.loads(r.train_settings), sampling=sampling,
                            threads=threads)
        save_costs(db, res, sampling_id=int(r.sampling_id))
        done += 1
        if progress is not None:
            t, s_ = res
            progress(done, len(chosen), f"{r.cell}[{r.units}] lb={r.look_back}: training {t['process_seconds']:.1f} s "
                                        f"{t['peak_rss_bytes'] / 1e6:.0f} MB, sampling {s_['process_seconds']:.1f} s "
                                        f"{s_['peak_rss_bytes'] / 1e6:.0f} MB")
    return done
