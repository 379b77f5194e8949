"""The ``mae-ort`` command line: one click group and an explicit command registry.

Holds the group and its entry point (:mod:`.group`), one module per command family
(:mod:`.sample`, :mod:`.screening`, :mod:`.search`, :mod:`.study`, :mod:`.train`), each
with a ``COMMANDS`` tuple, and the shared options (:mod:`.options`).  Bad input raises
:class:`~mae_ort.errors.MaeOrtError` (or a click usage error), which :func:`main`
prints on one line with exit code 2.

Must not hold math (it parses, calls the library and prints); nothing imports it.
"""

from __future__ import annotations

from . import sample, screening, search, study, train
from .group import cli, main

__all__ = ["cli", "main", "COMMANDS"]

#: Every command of ``mae-ort``, in ``--help`` order: ``(name, click command)``.
COMMANDS = (*sample.COMMANDS, *screening.COMMANDS, *search.COMMANDS, *study.COMMANDS, *train.COMMANDS)

for _name, _command in COMMANDS:
    cli.add_command(_command, _name)
