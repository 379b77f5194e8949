"""onnxruntime sessions: runs in parallel threads open each graph once."""

from __future__ import annotations

import mae_ort


def test_parallel_runs_open_one_session_and_time_it_once():
    s = mae_ort.Sampler(runtime="onnxruntime", threads=2)
    rt = s.runtime_for(mae_ort.Architecture(units=(6, 5)), 4)
    assert rt.parallel_runs == 2
    r = s.sample(mae_ort.sine(), [6, 5], look_back=4, samples=24, seed=0)  # 6 chunks of 4, 2 at a time
    assert rt.sessions_created == 1
    assert 0.0 < r.setup_seconds <= r.seconds
