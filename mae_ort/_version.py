"""The package's version, its single source: pyproject.toml reads it (``dynamic = ["version"]``), and so do
``mae_ort.__version__``, ``mae-ort --version`` and the results store.  CHANGELOG.md says what each version holds."""

__version__ = "0.2.0"
