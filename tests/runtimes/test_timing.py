"""The measured runtime choice: ``auto`` follows the cached choice (deterministic for a given cache), measures once
when there is none, and the cache can be cleared.  Nothing here times the runtimes: the measurement is replaced."""

from __future__ import annotations

import json

import pytest

from mae_ort.model.architecture import Architecture
from mae_ort.runtimes import choose, timing
from mae_ort.runtimes.choose import NUMBA_MAX_UNITS, choose_runtime

SMALL = Architecture(units=(31, 31, 31))
WIDE = Architecture(units=(NUMBA_MAX_UNITS + 1,))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    path = tmp_path / "kernels-cache" / timing.FILE
    monkeypatch.setenv(timing.ENV, str(path))
    monkeypatch.setattr(choose, "numba_compiled", lambda: True)
    return path


def _write(path, choice, case=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"choice": choice, "seconds": {"numba": 1.0, "onnxruntime": 1.0},
                                "case": timing.CASE if case is None else case}))


@pytest.mark.parametrize("choice", ["numba", "onnxruntime"])
def test_auto_follows_the_cached_choice_and_never_measures(cache, monkeypatch, choice):
    _write(cache, choice)
    monkeypatch.setattr(timing, "measure_choice", lambda **kw: pytest.fail("measured despite a cache"))
    assert [choose_runtime(SMALL, 30) for _ in range(3)] == [choice] * 3
    assert choose_runtime(WIDE, 30) == "onnxruntime"  # wide layers: onnxruntime whatever the cache
    assert choose_runtime(SMALL, 30, device="cuda") == "onnxruntime"
    assert choose_runtime(SMALL, 30, runtime="numba") == "numba"  # a runtime asked for by name is kept


def test_without_a_cache_it_measures_once_and_caches(cache, monkeypatch):
    calls = []

    def fake(*, save=True):
        calls.append(save)
        out = {"choice": "onnxruntime", "seconds": {"numba": 3.8, "onnxruntime": 3.21}, "case": timing.CASE}
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(out))
        return out

    monkeypatch.setattr(timing, "measure_choice", fake)
    assert choose_runtime(SMALL, 30) == "onnxruntime" == choose_runtime(SMALL, 30)
    assert calls == [True]  # once: the second choice read the cache
    assert timing.cached_choice()["seconds"]["onnxruntime"] == 3.21


def test_clear_removes_the_cache_and_a_foreign_file_is_no_choice(cache):
    _write(cache, "numba")
    assert timing.cached_choice()["choice"] == "numba"
    assert timing.clear_choice() is True and not cache.exists()
    assert timing.clear_choice() is False
    _write(cache, "numba", case={"units": [7], "look_back": 1, "points": 10, "samples": 2})  # another version's
    assert timing.cached_choice() is None
    cache.write_text("not json")
    assert timing.cached_choice() is None


def test_the_cache_lives_beside_the_compiled_kernels(monkeypatch):
    monkeypatch.delenv(timing.ENV, raising=False)
    from mae_ort.kernels import forward

    folders = {str(v._cache._cache_path) for v in vars(forward).values() if getattr(v, "_cache", None) is not None
               and getattr(v._cache, "_cache_path", None)}
    assert str(timing.choice_path().parent) in folders and timing.choice_path().name == timing.FILE


def test_first_call_still_uses_onnxruntime_while_numba_is_not_compiled(cache, monkeypatch):
    _write(cache, "numba")
    monkeypatch.setattr(choose, "numba_compiled", lambda: False)
    assert choose_runtime(SMALL, 30, first_call=True) == "onnxruntime"
    assert choose_runtime(SMALL, 30) == "numba"


def test_measure_runs_both_runtimes_and_caches_the_faster(cache, monkeypatch):
    tiny = {"units": [3], "look_back": 2, "points": 40, "samples": 4}
    monkeypatch.setattr(timing, "CASE", tiny)
    monkeypatch.setattr(timing, "REPEATS", 1)
    got = timing.measure_choice()
    assert set(got["seconds"]) == {"numba", "onnxruntime"} and all(s > 0 for s in got["seconds"].values())
    assert got["choice"] == min(got["seconds"], key=got["seconds"].get)  # the faster one, whichever it is here
    assert timing.cached_choice() == json.loads(cache.read_text()) == got
