"""Hydra configuration files of ``tracknet train`` (YAML, shipped as package data).

Groups: ``data/``, ``model/``, ``trainer/``, ``training/``, ``experiment/``; the schema
they merge into is :class:`tracknet.training.config.TrackNetConfig`.
"""

from __future__ import annotations

__all__: list[str] = []
