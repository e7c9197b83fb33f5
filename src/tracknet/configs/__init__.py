"""Hydra configuration files of ``tracknet train`` (YAML, shipped as package data).

Groups: ``data/``, ``model/``, ``trainer/``, ``training/``, ``experiment/``; the schema
they merge into is generated from :class:`tracknet.training.settings.TrackNetSettings`
(:func:`tracknet.training.config.hydra_schema`), where every default is written.
"""

from __future__ import annotations

__all__: list[str] = []
