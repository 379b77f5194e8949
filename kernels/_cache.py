"""Whether a Numba dispatcher would load a signature rather than compile it."""

from __future__ import annotations

__all__ = ["is_cached"]


def is_cached(dispatcher, args) -> bool:
    """True when calling ``dispatcher(*args)`` needs no compilation: a compiled version is loaded in this
    process, or Numba's disk cache holds one for these argument types (fresh: same source, same CPU).

    Reads Numba's cache index the way ``Dispatcher.compile`` does (``Cache._index_key``); if that
    internal API is missing (another Numba version) the answer is True, i.e. "assume it is ready",
    so callers fall back to their ordinary path.
    """
    try:
        sig = tuple(dispatcher.typeof_pyval(a) for a in args)
        if sig in dispatcher.overloads:  # keyed by the argument types
            return True
        cache = dispatcher._cache
        key = cache._index_key(sig, dispatcher.targetctx.codegen())
        return key in cache._cache_file._load_index()
    except Exception:  # pragma: no cover - another Numba's internals
        return True
