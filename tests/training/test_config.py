"""Hydra configuration: every group option composes and is instantiated; bad overrides are
one line."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest

from tracknet.data.normalize import Normalizer
from tracknet.errors import ConfigError, DataError
from tracknet.model import StepAheadTrackNet
from tracknet.model.checkpoint import checkpoint_hparams
from tracknet.training.__main__ import main as training_main
from tracknet.training.config import compose_config, config_groups, to_container
from tracknet.training.datamodule import TrackDataModule
from tracknet.training.module import StepAheadModule
from tracknet.training.runs import _TRAINER_KEYS
from tracknet.training.settings import DataSettings, ModelSettings, TrainingSettings


def test_required_keys_exist_with_their_defaults() -> None:
    cfg = compose_config([])
    assert cfg.data.dir is None and cfg.training.resume_from is None
    assert cfg.experiment == "default"
    assert cfg.trainer.max_epochs >= 1
    assert (
        cfg.trainer.strategy == "auto" and cfg.trainer.devices == 1 and cfg.trainer.num_nodes == 1
    )
    assert config_groups() == {
        "data": ["simulated", "straw", "trackml"],
        "experiment": [
            "simulated",
            "simulated_full",
            "simulated_full_lowpt",
            "straw",
            "straw_seed",
            "trackml",
        ],
        "model": ["step_ahead"],
        "trainer": ["cpu", "ddp"],
        "training": ["default"],
    }


def _instantiate(cfg, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Build every object the training run builds from ``cfg`` (without running it)."""
    container = to_container(cfg)
    data = dict(container["data"])
    if data["source"] == "trackml" and not data["dir"]:
        data["dir"] = str(tmp_path)
    data_settings = DataSettings.from_config(data)
    datamodule = TrackDataModule(data_settings, progress=False)
    assert datamodule.normalizer.scale_mm == data_settings.scale_mm
    model = StepAheadTrackNet.from_config(
        ModelSettings.from_config(container["model"]).step_ahead_config()
    )
    assert model.input_dim == len(data_settings.dims)
    training = TrainingSettings.from_config(container["training"])
    module = StepAheadModule(
        tracknet=checkpoint_hparams(model, Normalizer(data_settings.scale_mm)),
        training=training.to_dict(),
        config=container,
    )
    assert isinstance(module.model, StepAheadTrackNet)
    trainer_kwargs = {
        k: container["trainer"][k] for k in _TRAINER_KEYS if container["trainer"].get(k) is not None
    }
    trainer = L.Trainer(
        **trainer_kwargs, logger=False, enable_checkpointing=False, use_distributed_sampler=False
    )
    assert trainer.max_epochs == container["trainer"]["max_epochs"]


@pytest.mark.parametrize(
    "overrides",
    [
        [f"{group}={option}"]
        for group, options in {
            "data": ["simulated", "trackml"],
            "model": ["step_ahead"],
            "trainer": ["cpu", "ddp"],
            "training": ["default"],
            "experiment": ["simulated", "trackml"],
        }.items()
        for option in options
    ],
    ids=lambda o: o[0],
)
def test_every_group_option_is_instantiated(overrides: list[str], tmp_path: Path) -> None:
    cfg = compose_config(overrides)
    group, option = overrides[0].split("=")
    if group == "experiment":
        assert cfg.experiment == option
    if overrides == ["trainer=ddp"]:
        assert cfg.trainer.strategy == "ddp" and cfg.trainer.devices == 2
    _instantiate(cfg, tmp_path)


def test_command_line_overrides_reach_the_config() -> None:
    cfg = compose_config(
        [
            "trainer.max_epochs=3",
            "data.dir=/x",
            "experiment=simulated",
            "model.hidden_size=12",
            "data.dims=[0,1]",
            "model.input_dim=2",
            "trainer.strategy=ddp",
            "trainer.devices=2",
            "trainer.num_nodes=1",
            "training.resume_from=/a/b.ckpt",
        ]
    )
    assert cfg.trainer.max_epochs == 3 and cfg.data.dir == "/x" and cfg.experiment == "simulated"
    assert (
        cfg.model.hidden_size == 12 and list(cfg.data.dims) == [0, 1] and cfg.model.input_dim == 2
    )
    assert cfg.training.resume_from == "/a/b.ckpt" and cfg.trainer.strategy == "ddp"


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("trainer.max_epochs=abc", "trainer.max_epochs"),
        ("trainer.foo=1", "trainer.foo"),
        ("model.hidden_size=1.5", "model.hidden_size"),
        ("data=nope", "data/nope"),
        ("experiment=nope", "experiment/nope"),
        ("data.dims=3", "data.dims"),
        ("trainer.max_epochs=[1", "[1"),
    ],
)
def test_wrong_key_or_type_is_one_config_error_line(override: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        compose_config([override])
    message = str(info.value)
    assert "\n" not in message and needle in message


def test_bad_values_fail_before_any_work(tmp_path: Path) -> None:
    from tracknet.training.train import train

    for overrides, needle in (
        ([], "data.dir is not set"),
        (["experiment=simulated", "data.val_fraction=1.5"], "data.val_fraction"),
        (["experiment=simulated", "training.scheduler=linear"], "training.scheduler"),
        (["experiment=simulated", "model.input_dim=2"], "model.input_dim"),
        (["experiment=simulated", "model.features=polar"], "features"),
        (["experiment=simulated", "+data.simulation.config.bogus=1"], "bogus"),
    ):
        cfg = compose_config(
            [*overrides, f"run.output_dir={tmp_path / 'run'}", f"data.cache_dir={tmp_path}"]
        )
        with pytest.raises(ConfigError, match=needle) as info:
            train(cfg)
        assert "\n" not in str(info.value)
    assert not (tmp_path / "run").exists()


def test_training_entry_point_prints_one_line_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (
        ["train", "trainer.max_epochs=abc"],
        ["train", "--bogus"],
        ["train", "trainer.foo=1"],
    ):
        with pytest.raises(SystemExit) as info:
            training_main(argv)
        assert info.value.code == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "\n" not in err
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SystemExit) as info:
        training_main(
            [
                "train",
                f"data.dir={empty}",
                f"data.cache_dir={tmp_path}",
                f"run.output_dir={tmp_path / 'r'}",
            ]
        )
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "no TrackML events" in err and "\n" not in err


def test_print_config_shows_the_composed_yaml(capsys: pytest.CaptureFixture[str]) -> None:
    training_main_ok = None
    try:
        training_main(["train", "--print-config", "experiment=simulated", "trainer.max_epochs=7"])
    except SystemExit as exc:  # typer's standalone mode exits 0 after a command
        training_main_ok = exc.code
    assert training_main_ok in (None, 0)
    out = capsys.readouterr().out
    assert "experiment: simulated" in out and "max_epochs: 7" in out


def test_empty_data_dir_is_a_data_error(tmp_path: Path) -> None:
    settings = DataSettings.from_config(
        {
            **to_container(compose_config([]))["data"],
            "dir": str(tmp_path),
            "cache_dir": str(tmp_path / "c"),
        }
    )
    with pytest.raises(DataError, match="no TrackML events") as info:
        TrackDataModule(settings, progress=False).prepare_data()
    assert "\n" not in str(info.value)
