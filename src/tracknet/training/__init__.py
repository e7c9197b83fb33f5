"""Training of StepAhead TrackNET with Lightning and Hydra (the only package importing Lightning).

* :mod:`.config`: the typed Hydra schema and :func:`compose_config` (one-line errors);
* :mod:`.datamodule`: events (TrackML or simulated) -> cached tracks -> batches;
* :mod:`.module`: the LightningModule (loss, validation metrics, radius calibration);
* :mod:`.train`: :func:`train` (run layout, checkpoints, resume, DDP);
* :mod:`.validate`, :mod:`.density`: ``tracknet validate`` / ``tracknet density``;
* :mod:`.commands`: the command functions registered on the CLI.

Importing this package loads neither Lightning nor Hydra; the submodules do.
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
