"""Straw track followers: StepAhead TrackNET (2D) and the classical line follower."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch

from ...errors import ConfigError
from ...model.checkpoint import LoadedModel
from .hits import StrawHits
from .settings import StrawBuildConfig

__all__ = [
    "StrawFollower",
    "StrawLineFollower",
    "StrawTrackNetFollower",
    "check_straw_model",
    "resolve_min_drift",
    "resolves_drift",
]


class StrawFollower(Protocol):
    """What the straw extension needs from a track follower (its state is opaque)."""

    def start(self, entries: np.ndarray) -> Any:
        """State after reading seeds: ``entries`` ``(S, m, 2)`` (x, y mm), one per layer."""
        ...

    def predict(
        self,
        state: Any,
        paths: np.ndarray,
        n_hits: np.ndarray,
        hits: StrawHits,
        next_x: np.ndarray,
        *,
        path_y: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Circle ``(centre (N, 2), radius (N,))`` for each candidate's crossing of its next
        layer; ``path_y`` ``(N, width)``: the ``y`` each path hit was taken at (drift-resolved
        or the straw centre)."""
        ...

    def advance(self, state: Any, parents: np.ndarray, entries: np.ndarray, **kwargs: Any) -> Any:
        """State of children: child ``i`` continues ``parents[i]`` with ``entries[i]`` (x, y)."""
        ...

    def take(self, state: Any, rows: np.ndarray) -> Any:
        """The state of the candidates ``rows``."""
        ...


class StrawTrackNetFollower:
    """A 2D StepAhead TrackNET as a :class:`StrawFollower`: one batched GRU step per layer.

    The state is ``(hidden (num_layers, N, state_size), centre (N, 2) mm, radius (N,) mm)``,
    the t1 circle after the last entry; ``radius_scale`` multiplies every radius.
    """

    #: A hole's predicted crossing is fed as if it were measured: its uncertainty is added
    #: to the next circles until a hit is found (see docs/straw-building.md).
    inflate_after_holes = True
    #: The predicted centre is slid onto the next layer's plane (see docs/straw-building.md).
    project_to_layer = True

    def __init__(
        self,
        model: Any,
        normalizer: Any,
        *,
        radius_scale: float = 1.0,
        resolve_drift: bool = False,
        min_drift_mm: float = 0.0,
    ) -> None:
        if model.input_dim != 2:
            raise ConfigError(
                "straw building needs a 2D (x, y) model (input_dim 2), "
                f"got input_dim {model.input_dim}"
            )
        self.model = model.eval()
        self.normalizer = normalizer
        self.radius_scale = float(radius_scale)
        #: The model was trained on drift-resolved positions (``data.straw.positions``).
        self.resolve_drift = bool(resolve_drift)
        #: Drifts below this stay at the wire (``data.straw.min_drift_mm`` of training).
        self.min_drift_mm = float(min_drift_mm)

    @torch.no_grad()
    def _step(
        self, x_mm: np.ndarray, hidden: torch.Tensor | None
    ) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
        x = torch.as_tensor(self.normalizer.to_model(x_mm), dtype=torch.float32)
        pred, hidden = self.model.step(x, hidden)
        centre = self.normalizer.to_mm(pred.t1_center.numpy().astype(np.float64))
        radius = (
            self.normalizer.radius_to_mm(pred.t1_radius.numpy().astype(np.float64))
            * self.radius_scale
        )
        return hidden, centre, radius

    def start(self, entries: np.ndarray) -> tuple[Any, ...]:
        hidden = None
        centre, radius = np.zeros((len(entries), 2)), np.zeros(len(entries))
        if len(entries) == 0:
            hidden = self.model.initial_hidden(0)
        for j in range(entries.shape[1]):
            hidden, centre, radius = self._step(entries[:, j], hidden)
        return (
            hidden,
            centre,
            radius,
            hidden,
            entries[:, -1].copy(),
            np.zeros(len(entries), dtype=np.int64),
        )

    def predict(
        self,
        state: Any,
        paths: np.ndarray,
        n_hits: np.ndarray,
        hits: StrawHits,
        next_x: np.ndarray,
        **_: Any,
    ) -> tuple[np.ndarray, np.ndarray]:
        return state[1], state[2]

    def advance(
        self,
        state: Any,
        parents: np.ndarray,
        entries: np.ndarray,
        is_hit: np.ndarray | None = None,
        layer_x: np.ndarray | None = None,
    ) -> Any:
        """Children's states. A hole's child reads the predicted crossing; a hit after
        ``k`` holes is read after the model re-reads the ``k`` holes as the straight line
        between the last hit and this one (as in training, where a missed layer's entry
        is interpolated between its neighbouring hits), from the state after the last hit."""
        if len(parents) == 0:
            return self.take(state, parents)
        hidden_all, _, _, anchor_all, anchor_xy_all, holes_all = state
        if is_hit is None or layer_x is None:
            is_hit = np.ones(len(parents), dtype=bool)
        holes = holes_all[parents]
        replay = is_hit & (holes > 0)
        direct = np.flatnonzero(~replay)
        hidden, centre, radius = self._step(
            entries[direct], hidden_all[:, torch.as_tensor(parents[direct])]
        )
        out_hidden = torch.empty(
            (hidden.shape[0], len(parents), hidden.shape[2]), dtype=hidden.dtype
        )
        out_centre, out_radius = np.zeros((len(parents), 2)), np.zeros(len(parents))
        out_hidden[:, torch.as_tensor(direct)] = hidden
        out_centre[direct], out_radius[direct] = centre, radius
        for k in np.unique(holes[replay]):
            assert layer_x is not None  # replays only happen with layer_x given
            rows = np.flatnonzero(replay & (holes == k))
            h = anchor_all[:, torch.as_tensor(parents[rows])]
            x0, y0 = anchor_xy_all[parents[rows], 0], anchor_xy_all[parents[rows], 1]
            x1, y1 = entries[rows, 0], entries[rows, 1]
            first = np.searchsorted(layer_x, x0 - 1e-6)
            for j in range(1, k + 1):
                xj = layer_x[first + j]
                yj = y0 + (y1 - y0) * (xj - x0) / (x1 - x0)
                h, _, _ = self._step(np.stack([xj, yj], axis=1), h)
            h, c, r = self._step(entries[rows], h)
            out_hidden[:, torch.as_tensor(rows)] = h
            out_centre[rows], out_radius[rows] = c, r
        new_holes = np.where(is_hit, 0, holes + 1)
        anchor = anchor_all[:, torch.as_tensor(parents)].clone()
        hit_rows = torch.as_tensor(np.flatnonzero(is_hit))
        anchor[:, hit_rows] = out_hidden[:, hit_rows]
        anchor_xy = np.where(is_hit[:, None], entries, anchor_xy_all[parents])
        return out_hidden, out_centre, out_radius, anchor, anchor_xy, new_holes

    def take(self, state: Any, rows: np.ndarray) -> Any:
        rows = np.asarray(rows, dtype=np.int64)
        t = torch.as_tensor(rows)
        return (
            state[0][:, t],
            state[1][rows],
            state[2][rows],
            state[3][:, t],
            state[4][rows],
            state[5][rows],
        )

    @staticmethod
    def concatenate(states: list[Any]) -> Any:
        return tuple(
            torch.cat([s[i] for s in states], dim=1)
            if i in (0, 3)
            else np.concatenate([s[i] for s in states])
            for i in range(6)
        )


class StrawLineFollower:
    """The classical follower: a least-squares line (or parabola) through the last hits.

    ``y(x)`` is fitted to the candidate's last ``fit_hits`` hits (straw centres), a
    parabola when they span more than ``parabola_span_mm`` in ``x`` (a circle of the
    magnetic field, to second order), else a line; the search window at the next layer
    is ``window_mm + window_per_mm * (x_next - x_last)``. No state.
    """

    #: Default left/right resolution of the hits (``StrawBuildConfig.resolve_drift``).
    resolve_drift = True
    min_drift_mm = 0.25

    def __init__(
        self,
        *,
        window_mm: float,
        window_per_mm: float,
        fit_hits: int,
        parabola_span_mm: float = 100.0,
    ) -> None:
        self.window_mm = float(window_mm)
        self.window_per_mm = float(window_per_mm)
        self.fit_hits = int(fit_hits)
        self.parabola_span_mm = float(parabola_span_mm)

    def start(self, entries: np.ndarray) -> None:
        return None

    def advance(self, state: Any, parents: np.ndarray, entries: np.ndarray, **_: Any) -> None:
        return None

    def take(self, state: Any, rows: np.ndarray) -> None:
        return None

    @staticmethod
    def concatenate(states: list[Any]) -> None:
        return None

    def predict(
        self,
        state: Any,
        paths: np.ndarray,
        n_hits: np.ndarray,
        hits: StrawHits,
        next_x: np.ndarray,
        *,
        path_y: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        n = len(n_hits)
        k = self.fit_hits
        cols = n_hits[:, None] - k + np.arange(k)[None, :]
        valid = cols >= 0
        rows = np.where(valid, paths[np.arange(n)[:, None], np.maximum(cols, 0)], 0)
        x_last = hits.x[paths[np.arange(n), n_hits - 1]]
        x = np.where(valid, hits.x[rows] - x_last[:, None], 0.0) / 100.0  # 100 mm units
        fitted_y = (
            hits.y[rows] if path_y is None else path_y[np.arange(n)[:, None], np.maximum(cols, 0)]
        )
        y = np.where(valid, fitted_y, 0.0)
        span = np.where(valid, x, np.inf).min(axis=1)
        count = valid.sum(axis=1)
        quadratic = (-span * 100.0 > self.parabola_span_mm) & (count >= 4)
        # Normal equations of y = a + b x (+ c x^2) over the valid points (x, y: 0 elsewhere).
        x2 = x * x
        s = [count.astype(np.float64), x.sum(axis=1), x2.sum(axis=1)]
        s += [np.einsum("nk,nk->n", x2, x), np.einsum("nk,nk->n", x2, x2)]
        t = [y.sum(axis=1), np.einsum("nk,nk->n", y, x), np.einsum("nk,nk->n", y, x2)]
        m3 = np.stack(
            [
                np.stack([s[0], s[1], s[2]], -1),
                np.stack([s[1], s[2], s[3]], -1),
                np.stack([s[2], s[3], s[4]], -1),
            ],
            -2,
        )
        r3 = np.stack(t, -1)
        m2 = m3[:, :2, :2]
        r2 = r3[:, :2]
        coef = np.zeros((n, 3))
        lin = ~quadratic
        if lin.any():
            det = m2[lin, 0, 0] * m2[lin, 1, 1] - m2[lin, 0, 1] ** 2
            safe = np.abs(det) > 1e-12
            a = np.where(
                safe,
                (m2[lin, 1, 1] * r2[lin, 0] - m2[lin, 0, 1] * r2[lin, 1]) / np.where(safe, det, 1),
                r2[lin, 0] / np.maximum(m2[lin, 0, 0], 1),
            )
            b = np.where(
                safe,
                (m2[lin, 0, 0] * r2[lin, 1] - m2[lin, 0, 1] * r2[lin, 0]) / np.where(safe, det, 1),
                0.0,
            )
            coef[lin, 0], coef[lin, 1] = a, b
        if quadratic.any():
            coef[quadratic] = np.linalg.solve(m3[quadratic], r3[quadratic][..., None])[..., 0]
        dx = (next_x - x_last) / 100.0
        y_next = coef[:, 0] + coef[:, 1] * dx + coef[:, 2] * dx * dx
        centre = np.stack([next_x, y_next], axis=1)
        return centre, self.window_mm + self.window_per_mm * (next_x - x_last)


def resolve_min_drift(follower: Any, config: StrawBuildConfig) -> float:
    """Drifts (mm) below which hits stay at the wire: the config's, else the follower's."""
    if config.resolve_min_drift_mm is not None:
        return float(config.resolve_min_drift_mm)
    return float(getattr(follower, "min_drift_mm", 0.0))


def resolves_drift(follower: Any, config: StrawBuildConfig) -> bool:
    """Whether hits are drift-resolved: ``config.resolve_drift``, or (None) the follower's
    own ``resolve_drift`` (a TrackNET model: the positions it was trained on)."""
    if config.resolve_drift is not None:
        return bool(config.resolve_drift)
    return bool(getattr(follower, "resolve_drift", False))


def check_straw_model(loaded: LoadedModel, where: str) -> None:
    """One-line :class:`ConfigError` unless ``loaded`` is a 2D straw model."""
    dim = loaded.model.input_dim
    detector = (loaded.meta or {}).get("detector")
    if dim != 2 or detector not in (None, "straw", "2d"):
        raise ConfigError(
            f"{where}: a {dim}D ({detector or 'unknown'}) model cannot build straw events; "
            "train a 2D straw model with `tracknet train experiment=straw`"
        )
