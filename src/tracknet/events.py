"""The one event model of TrackNET: column names, dtypes and units in one place.

Every source (the TrackML reader, the simulators, the overlays) produces an
:class:`Event`; every consumer takes one. Units: mm (``MM``), GeV/c (``GEV``), charge in
e, tesla (``T``), ns (``NS``). Particle id ``0`` is noise; :data:`UNLABELLED_PARTICLE_ID`
and :data:`CROSSTALK_PARTICLE_ID` are reserved; a ``track_id`` <= 0 is "on no track".

See ``docs/architecture.md`` (One event model).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "BLACKLIST_HITS_SCHEMA",
    "BLACKLIST_PARTICLES_SCHEMA",
    "CELLS_SCHEMA",
    "COORDINATE_COLUMNS",
    "CROSSTALK_PARTICLE_ID",
    "DETECTORS_SCHEMA",
    "GEV",
    "HITS_SCHEMA",
    "MAX_EVENT_ID",
    "MM",
    "NOISE_PARTICLE_ID",
    "NS",
    "PARTICLES_OPTIONAL",
    "PARTICLES_SCHEMA",
    "PART_SCHEMAS",
    "SUBMISSION_SCHEMA",
    "TESLA",
    "TRUTH_SCHEMA",
    "UNASSIGNED_TRACK_ID",
    "UNLABELLED_PARTICLE_ID",
    "Event",
    "particle_kinematics",
]

#: The largest event id a TrackML file name holds (``event`` and nine digits).
MAX_EVENT_ID = 999_999_999

# Units: the numbers every quantity in the package is expressed in.
MM = 1.0
GEV = 1.0
TESLA = 1.0
NS = 1.0

NOISE_PARTICLE_ID = 0
UNLABELLED_PARTICLE_ID = -1
CROSSTALK_PARTICLE_ID = -2
UNASSIGNED_TRACK_ID = 0

Schema = Mapping[str, np.dtype]

HITS_SCHEMA: Schema = {
    "hit_id": np.dtype("int64"),
    "x": np.dtype("float64"),
    "y": np.dtype("float64"),
    "z": np.dtype("float64"),
    "volume_id": np.dtype("int32"),
    "layer_id": np.dtype("int32"),
    "module_id": np.dtype("int32"),
}
TRUTH_SCHEMA: Schema = {
    "hit_id": np.dtype("int64"),
    "particle_id": np.dtype("int64"),
    "tx": np.dtype("float64"),
    "ty": np.dtype("float64"),
    "tz": np.dtype("float64"),
    "tpx": np.dtype("float64"),
    "tpy": np.dtype("float64"),
    "tpz": np.dtype("float64"),
    "weight": np.dtype("float64"),
}
PARTICLES_SCHEMA: Schema = {
    "particle_id": np.dtype("int64"),
    "vx": np.dtype("float64"),
    "vy": np.dtype("float64"),
    "vz": np.dtype("float64"),
    "px": np.dtype("float64"),
    "py": np.dtype("float64"),
    "pz": np.dtype("float64"),
    "q": np.dtype("int32"),
    "nhits": np.dtype("int32"),
}
# Columns that some variants of the format carry (CodaLab: the PDG id of the particle).
PARTICLES_OPTIONAL: Schema = {"particle_type": np.dtype("int64")}
CELLS_SCHEMA: Schema = {
    "hit_id": np.dtype("int64"),
    "ch0": np.dtype("int32"),
    "ch1": np.dtype("int32"),
    "value": np.dtype("float64"),
}
BLACKLIST_HITS_SCHEMA: Schema = {"hit_id": np.dtype("int64")}
BLACKLIST_PARTICLES_SCHEMA: Schema = {"particle_id": np.dtype("int64")}
SUBMISSION_SCHEMA: Schema = {
    "event_id": np.dtype("int64"),
    "hit_id": np.dtype("int64"),
    "track_id": np.dtype("int64"),
}
DETECTORS_SCHEMA: Schema = {
    "volume_id": np.dtype("int32"),
    "layer_id": np.dtype("int32"),
    "module_id": np.dtype("int32"),
    "cx": np.dtype("float64"),
    "cy": np.dtype("float64"),
    "cz": np.dtype("float64"),
    "rot_xu": np.dtype("float64"),
    "rot_xv": np.dtype("float64"),
    "rot_xw": np.dtype("float64"),
    "rot_yu": np.dtype("float64"),
    "rot_yv": np.dtype("float64"),
    "rot_yw": np.dtype("float64"),
    "rot_zu": np.dtype("float64"),
    "rot_zv": np.dtype("float64"),
    "rot_zw": np.dtype("float64"),
    "module_t": np.dtype("float64"),
    "module_minhu": np.dtype("float64"),
    "module_maxhu": np.dtype("float64"),
    "module_hv": np.dtype("float64"),
    "pitch_u": np.dtype("float64"),
    "pitch_v": np.dtype("float64"),
}

# The parts of a TrackML event, by the name used in file names.
PART_SCHEMAS: dict[str, Schema] = {
    "hits": HITS_SCHEMA,
    "truth": TRUTH_SCHEMA,
    "particles": PARTICLES_SCHEMA,
    "cells": CELLS_SCHEMA,
    "blacklist_hits": BLACKLIST_HITS_SCHEMA,
    "blacklist_particles": BLACKLIST_PARTICLES_SCHEMA,
}

# Columns that must hold finite numbers (a NaN or inf there is an error, not a value).
COORDINATE_COLUMNS: dict[str, tuple[str, ...]] = {
    "hits": ("x", "y", "z"),
    "truth": ("tx", "ty", "tz", "tpx", "tpy", "tpz", "weight"),
    "particles": ("vx", "vy", "vz", "px", "py", "pz"),
    "cells": ("value",),
}


@dataclass(frozen=True)
class Event:
    """One event: hits, and where known their truth, particles and cells.

    ``hits`` always holds the columns of :data:`HITS_SCHEMA` and may carry extra columns
    (the straw tracker adds ``straw_id`` and ``drift_mm``; a straw event has ``z = 0``).
    ``truth`` has one row per hit, in the order of ``hits``. ``meta`` holds small plain
    facts about the event (detector name, generator parameters), never arrays.
    """

    event_id: int
    hits: pd.DataFrame
    truth: pd.DataFrame | None = None
    particles: pd.DataFrame | None = None
    cells: pd.DataFrame | None = None
    blacklist_hits: pd.DataFrame | None = None
    blacklist_particles: pd.DataFrame | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_hits(self) -> int:
        return len(self.hits)

    @property
    def has_truth(self) -> bool:
        return self.truth is not None

    @property
    def detector(self) -> str:
        return str(self.meta.get("detector", "trackml"))

    @property
    def prefix(self) -> str:
        """The TrackML file prefix, ``event000001000``."""
        return f"event{self.event_id:09d}"

    def positions(self) -> np.ndarray:
        """Hit positions as an ``(n_hits, 3)`` float64 array in mm."""
        return self.hits[["x", "y", "z"]].to_numpy(dtype=np.float64)

    def particle_ids(self) -> np.ndarray:
        """The truth particle id of every hit, aligned with ``hits``."""
        if self.truth is None:
            raise ValueError(f"{self.prefix}: event has no truth")
        return self.truth["particle_id"].to_numpy()

    def parts(self) -> dict[str, pd.DataFrame]:
        """The present TrackML parts by file-part name."""
        out: dict[str, pd.DataFrame] = {}
        for name in PART_SCHEMAS:
            frame = getattr(self, name)
            if frame is not None:
                out[name] = frame
        return out

    def with_parts(self, **parts: Any) -> Event:
        """A copy with some parts replaced."""
        return replace(self, **parts)


def particle_kinematics(particles: pd.DataFrame) -> pd.DataFrame:
    """Derived per-particle quantities: ``pt`` (GeV), ``p`` (GeV), ``eta``, ``phi``, ``vr`` (mm).

    Pure function on the particles table; returns a frame indexed like ``particles``.
    """
    px = particles["px"].to_numpy(dtype=np.float64)
    py = particles["py"].to_numpy(dtype=np.float64)
    pz = particles["pz"].to_numpy(dtype=np.float64)
    pt = np.hypot(px, py)
    # eta = asinh(pz / pt); a particle along the beam (pt = 0) has eta = +-inf, and 0 when
    # it does not move at all.
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(pt > 0, pz / np.where(pt > 0, pt, 1.0), np.copysign(np.inf, pz))
    eta = np.where((pt == 0) & (pz == 0), 0.0, np.arcsinh(ratio))
    return pd.DataFrame(
        {
            "pt": pt,
            "p": np.sqrt(pt * pt + pz * pz),
            "eta": eta,
            "phi": np.arctan2(py, px),
            "vr": np.hypot(
                particles["vx"].to_numpy(dtype=np.float64),
                particles["vy"].to_numpy(dtype=np.float64),
            ),
        },
        index=particles.index,
    )
