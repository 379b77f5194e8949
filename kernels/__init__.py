"""Numba kernels of mae-ort (importable as ``mae_ort.kernels``)."""
