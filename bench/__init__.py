"""The mae-ort benchmark suite (issue 5): ``bash scripts/bench.sh [--quick]``.

* :mod:`bench.machine`     machine facts, library versions, the float32 GEMM rate, memory probes
* :mod:`bench.cases`       the benchmark cases (paper sine, EUNITE, the two-layer throughput slice)
* :mod:`bench.contenders`  every contender, the native-``LSTM`` ONNX graph, the worker processes
* :mod:`bench.peers`       PyTorch, JAX and OpenVINO on mae-ort's weights (the ``peers`` extra)
* :mod:`bench.suite`       orchestration, ``results.json`` and ``RESULTS.md``
"""
