"""Training of StepAhead TrackNET with Lightning and Hydra (the only package importing Lightning).

The configuration schema and composition (:mod:`.config`, :mod:`.settings`), the data
modules, the LightningModule, :func:`~tracknet.training.train.train`, the radius
calibrations and the ``validate`` / ``density`` / ``export`` commands. Importing this
package loads neither Lightning nor Hydra; the submodules do.

See docs/architecture.md and docs/model.md.
"""

from __future__ import annotations

__all__ = ["compose_config", "train"]


def __getattr__(name: str):
    if name == "compose_config":
        from .config import compose_config

        return compose_config
    if name == "train":
        from .train import train

        return train
    raise AttributeError(name)
