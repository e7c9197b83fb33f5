"""Compare simulated events with real TrackML events: pure functions on events/tables.

Layer shares and their total-variation distance, hits per event, noise fraction, hits
per particle and the pT spectrum; :func:`compare_events` pools the simulated events and
compares them with each real event.

See ``docs/simulation.md`` (The event and reproducibility).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from tracknet.events import NOISE_PARTICLE_ID, Event

__all__ = [
    "TARGET_MAX_REL_DIFF",
    "TARGET_MAX_TV",
    "compare_events",
    "event_figures",
    "hits_per_particle",
    "layer_shares",
    "noise_fraction",
    "pt_summary",
    "total_variation",
]

#: Largest acceptable TV distance of the layer shares against each real event.
TARGET_MAX_TV = 0.08
#: Largest acceptable relative difference of hits per event and noise fraction.
TARGET_MAX_REL_DIFF = 0.25


def layer_shares(hits: pd.DataFrame) -> pd.Series:
    """Share of the hits per ``(volume_id, layer_id)`` (a Series summing to 1)."""
    counts = hits.groupby(["volume_id", "layer_id"]).size()
    total = counts.sum()
    return (counts / total if total else counts.astype(np.float64)).rename("share")


def total_variation(p: pd.Series, q: pd.Series) -> float:
    """``0.5 * sum |p - q|`` over the union of both indexes (absent entries are 0)."""
    p, q = p.align(q, fill_value=0.0)
    return float(0.5 * np.abs(p.to_numpy(dtype=np.float64) - q.to_numpy(dtype=np.float64)).sum())


def noise_fraction(event: Event) -> float | None:
    """Noise share of the hits: from truth, else ``1 - sum(nhits) / n_hits``; None if unknown."""
    if event.n_hits == 0:
        return None
    if event.truth is not None:
        return float(np.mean(event.truth["particle_id"].to_numpy() == NOISE_PARTICLE_ID))
    if event.particles is not None and "nhits" in event.particles:
        return float(1.0 - event.particles["nhits"].sum() / event.n_hits)
    return None


def hits_per_particle(particles: pd.DataFrame) -> dict[str, float]:
    """Mean ``nhits`` over all particles and over particles with hits; share without hits."""
    nhits = particles["nhits"].to_numpy(dtype=np.float64)
    with_hits = nhits[nhits > 0]
    return {
        "mean_all": float(nhits.mean()) if len(nhits) else float("nan"),
        "mean_with_hits": float(with_hits.mean()) if len(with_hits) else float("nan"),
        "share_without_hits": float(np.mean(nhits == 0)) if len(nhits) else float("nan"),
    }


def pt_summary(particles: pd.DataFrame) -> dict[str, float]:
    """Mean and 10 / 50 / 90 % quantiles of the particles' pT (GeV)."""
    pt = np.hypot(
        particles["px"].to_numpy(dtype=np.float64), particles["py"].to_numpy(dtype=np.float64)
    )
    if not len(pt):
        return {"mean": float("nan"), "q10": float("nan"), "q50": float("nan"), "q90": float("nan")}
    q10, q50, q90 = np.quantile(pt, [0.1, 0.5, 0.9])
    return {"mean": float(pt.mean()), "q10": float(q10), "q50": float(q50), "q90": float(q90)}


def event_figures(event: Event) -> dict[str, Any]:
    """Hits, noise fraction, particles, hits per particle and pT summary of one event."""
    out: dict[str, Any] = {"event_id": int(event.event_id), "n_hits": int(event.n_hits)}
    out["noise_fraction"] = noise_fraction(event)
    if event.particles is not None:
        out["n_particles"] = len(event.particles)
        if "nhits" in event.particles:
            out["hits_per_particle"] = hits_per_particle(event.particles)
        out["pt"] = pt_summary(event.particles)
    return out


def _pool_shares(events: Sequence[Event]) -> pd.Series:
    return layer_shares(
        pd.concat([e.hits[["volume_id", "layer_id"]] for e in events], ignore_index=True)
    )


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return float(np.mean(known)) if known else None


def _rel(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return float(a / b - 1.0)


def compare_events(simulated: Sequence[Event], real: Sequence[Event]) -> dict[str, Any]:
    """Figures of the pooled ``simulated`` events against each of the ``real`` events.

    Returns ``{"simulated": {...}, "real": [{...}, ...]}``; each real entry holds its own
    figures plus ``tv_layer_shares`` (simulated vs this event), ``hits_rel_diff`` and
    ``noise_rel_diff`` (simulated / real - 1), and ``targets_met`` (TV at most
    :data:`TARGET_MAX_TV`, both relative differences at most :data:`TARGET_MAX_REL_DIFF`
    in size).
    """
    if not simulated or not real:
        raise ValueError("need at least one simulated and one real event")
    sim_figures = [event_figures(e) for e in simulated]
    sim_hits = float(np.mean([f["n_hits"] for f in sim_figures]))
    sim_noise = _mean([f["noise_fraction"] for f in sim_figures])
    sim_particles = pd.concat(
        [e.particles for e in simulated if e.particles is not None], ignore_index=True
    )
    sim_shares = _pool_shares(simulated)
    summary: dict[str, Any] = {
        "n_events": len(simulated),
        "hits_per_event": sim_hits,
        "noise_fraction": sim_noise,
        "particles_per_event": float(len(sim_particles) / len(simulated)),
        "hits_per_particle": hits_per_particle(sim_particles),
        "pt": pt_summary(sim_particles),
    }
    out_real = []
    for event in real:
        figures = event_figures(event)
        tv = total_variation(sim_shares, layer_shares(event.hits))
        hits_diff = _rel(sim_hits, float(event.n_hits))
        noise_diff = _rel(sim_noise, figures["noise_fraction"])
        figures.update(
            {
                "tv_layer_shares": tv,
                "hits_rel_diff": hits_diff,
                "noise_rel_diff": noise_diff,
                "targets_met": bool(
                    tv <= TARGET_MAX_TV
                    and hits_diff is not None
                    and abs(hits_diff) <= TARGET_MAX_REL_DIFF
                    and noise_diff is not None
                    and abs(noise_diff) <= TARGET_MAX_REL_DIFF
                ),
            }
        )
        out_real.append(figures)
    return {"simulated": summary, "real": out_real}
