"""Property tests of the TrackML reader (hypothesis): random small events written to disk
read back exactly; damaged files give a valid event or a one-line DataError, nothing else."""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.random_events import SUBMISSION_MODES, random_event, random_submission
from tracknet.errors import DataError
from tracknet.events import PART_SCHEMAS, SUBMISSION_SCHEMA, Event
from tracknet.io.trackml import read_event, read_submission, write_event, write_submission

SETTINGS = settings(max_examples=60, deadline=None)

#: Cell values that break a column in a different way each.
TOKENS = (
    "",
    "nan",
    "-inf",
    "1.5",
    "2.0",
    "1e3",
    "abc",
    " 7 ",
    "+5",
    "0x1f",
    "-1",
    str(2**63),
    str(-(2**63) - 1),
    str(2**31),
    "99999999999999999999999",
    '"3"',
    '"unterminated',
    "é",
    "\x00",
)

MUTATIONS = (
    "cell",
    "text cell",
    "drop column",
    "repeat column",
    "rename column",
    "repeat row",
    "drop row",
    "extra field",
    "truncate",
    "insert bytes",
    "gzip",
    "empty",
)


def _mutate(data: bytes, draw: st.DrawFn) -> bytes:
    """``data`` (a CSV file's bytes) damaged by one drawn mutation."""
    lines = data.decode().splitlines()
    header, rows = lines[0].split(","), [line.split(",") for line in lines[1:]]
    kind = draw(st.sampled_from(MUTATIONS))
    column = draw(st.integers(0, len(header) - 1))
    row = draw(st.integers(0, max(len(rows) - 1, 0)))
    if kind in ("cell", "text cell") and rows:
        value = draw(st.sampled_from(TOKENS) if kind == "cell" else st.text(max_size=6))
        rows[row][column] = value
    elif kind == "drop column":
        header.pop(column)
        rows = [r[:column] + r[column + 1 :] for r in rows]
    elif kind == "repeat column":
        header.append(header[column])
        rows = [[*r, r[column]] for r in rows]
    elif kind == "rename column":
        header[column] = draw(st.sampled_from(["", "x", header[column].upper(), " " + header[0]]))
    elif kind == "repeat row" and rows:
        rows.append(list(rows[row]))
    elif kind == "drop row" and rows:
        rows.pop(row)
    elif kind == "extra field" and rows:
        rows[row].append("1")
    text = "\n".join(",".join(r) for r in [header, *rows]) + "\n"
    out = text.encode("utf-8", "surrogatepass")
    if kind == "truncate":
        out = out[: draw(st.integers(0, len(out)))]
    elif kind == "insert bytes":
        at = draw(st.integers(0, len(out)))
        out = out[:at] + draw(st.binary(min_size=1, max_size=8)) + out[at:]
    elif kind == "gzip":
        out = gzip.compress(out)
        if draw(st.booleans()):
            out = out[: draw(st.integers(0, len(out)))]
    elif kind == "empty":
        out = b""
    return out


def _assert_valid(event: Event, parts: tuple[str, ...]) -> None:
    """What the reader guarantees of an event it returns."""
    for part in parts:
        frame = getattr(event, part)
        assert frame is not None
        for column, dtype in PART_SCHEMAS[part].items():
            assert frame[column].dtype == dtype, (part, column)
    assert event.hits["hit_id"].is_unique
    assert np.isfinite(event.hits[["x", "y", "z"]].to_numpy()).all()
    if event.truth is not None:
        assert np.array_equal(event.truth["hit_id"].to_numpy(), event.hits["hit_id"].to_numpy())


@st.composite
def small_events(draw: st.DrawFn) -> Event:
    return random_event(
        np.random.default_rng(draw(st.integers(0, 2**32 - 1))),
        event_id=draw(st.integers(0, 999_999_999)),
        n_particles=draw(st.integers(0, 4)),
        max_hits=draw(st.integers(1, 4)),
        n_noise=draw(st.integers(0, 3)),
    )


@SETTINGS
@given(event=small_events(), compress=st.booleans())
def test_written_events_read_back_exactly(event: Event, compress: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        write_event(event, tmp, compress=compress)
        if event.hits.empty:  # a header-only hits file is refused, naming it
            with pytest.raises(DataError, match=r"-hits\.csv.*no hits"):
                read_event(Path(tmp) / event.prefix)
            return
        back = read_event(Path(tmp) / event.prefix)
    _assert_valid(back, ("hits", "truth", "particles"))
    assert back.event_id == event.event_id
    for part in ("hits", "truth", "particles"):
        pd.testing.assert_frame_equal(getattr(back, part), getattr(event, part))


@SETTINGS
@given(event=small_events(), part=st.sampled_from(["hits", "truth", "particles"]), data=st.data())
def test_damaged_event_files_give_an_event_or_a_data_error(
    event: Event, part: str, data: st.DataObject
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        write_event(event, tmp)
        path = Path(tmp) / f"{event.prefix}-{part}.csv"
        path.write_bytes(_mutate(path.read_bytes(), data.draw))
        try:
            back = read_event(Path(tmp) / event.prefix)
        except DataError as exc:
            message = str(exc)
            assert message.startswith(str(path)) or str(Path(tmp)) in message
            assert "\n" not in message and "\r" not in message
            return
    _assert_valid(back, ("hits", "truth", "particles"))


@SETTINGS
@given(event=small_events(), mode=st.sampled_from(SUBMISSION_MODES), data=st.data())
def test_damaged_submissions_give_a_table_or_a_data_error(
    event: Event, mode: str, data: st.DataObject
) -> None:
    sub = random_submission(event, np.random.default_rng(event.event_id), mode)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_submission(sub, Path(tmp) / "sub.csv")
        if data.draw(st.booleans()):
            path.write_bytes(_mutate(path.read_bytes(), data.draw))
        try:
            frame = read_submission(path)
        except DataError as exc:
            assert str(exc).startswith(str(path)) and "\n" not in str(exc)
            return
    assert dict(frame.dtypes) == dict(SUBMISSION_SCHEMA)
    assert (frame["track_id"].to_numpy() >= 0).all()
    assert not frame.duplicated(["event_id", "hit_id"]).any()
