"""Whether a kernel would compile: ``is_cached`` and ``compiled`` against fresh Numba cache directories."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from mae_ort import kernels

PROBE = textwrap.dedent("""
    import json, sys
    import numpy as np
    sys.path.insert(0, sys.argv[1])
    import probe_mod
    from mae_ort.kernels import is_cached
    x = np.arange(4.0)
    before = is_cached(probe_mod.double, (x,))
    probe_mod.double(x)
    after = is_cached(probe_mod.double, (x,))
    other = is_cached(probe_mod.double, (np.arange(4, dtype=np.int32),))
    print(json.dumps([before, after, other]))
""")


def _probe(tmp_path, cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    out = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path)], env=env, capture_output=True, text=True,
                         timeout=300, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_is_cached_follows_numbas_disk_cache(tmp_path):
    (tmp_path / "probe_mod.py").write_text("from numba import njit\n\n\n@njit(cache=True)\ndef double(x):\n"
                                           "    return 2 * x\n")
    cache = tmp_path / "cache"
    # a fresh cache: not there before the first call, there after it; another signature is not
    assert _probe(tmp_path, cache) == [False, True, False]
    # a new process with the same cache finds it on disk before any call
    assert _probe(tmp_path, cache) == [True, True, False]
    # an empty cache directory again knows nothing
    assert _probe(tmp_path, tmp_path / "other")[0] is False


def test_the_kernels_are_compiled_after_warmup():
    kernels.warmup()
    assert kernels.random.compiled() and kernels.forward.compiled(group=True) and kernels.compiled()
