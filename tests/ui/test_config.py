"""The UI's safety settings: local by default, a warning for a public host, share and analytics forced off."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest

from masque import cli
from masque.errors import ConfigError
from masque.ui.config import UIConfig, is_loopback


def test_local_by_default_and_public_hosts_warn() -> None:
    assert UIConfig().host == "127.0.0.1" and UIConfig().max_upload_mb == 500 and UIConfig().port == 7860
    assert UIConfig().warning() is None and UIConfig(host="::1").warning() is None
    for host in ("0.0.0.0", "192.168.1.5", "myhost.example"):
        assert "ANYONE" in (UIConfig(host=host).warning() or "")
    assert is_loopback("127.0.0.2") and not is_loopback("::")


@pytest.mark.parametrize("kwargs", [{"port": 0}, {"max_upload_mb": 0}, {"queue_size": 0}])
def test_bad_values_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        UIConfig(**kwargs)


def test_command_warns_for_every_interface_and_ignores_gradio_share(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("gradio", reason="the UI extra is not installed")
    import masque.ui.app as app

    launched: list[UIConfig] = []

    def fake_launch(config: UIConfig, block: bool = True) -> None:
        app.prepare_environment(config)
        launched.append(config)

    monkeypatch.setattr(app, "launch", fake_launch)
    monkeypatch.setenv("GRADIO_SHARE", "True")
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "True")
    with caplog.at_level(logging.WARNING, logger="masque"):
        assert cli.main(["ui", "--host", "0.0.0.0", "--port", "7999", "--workdir", str(tmp_path / "w")]) == 0
    assert "anyone" in caplog.text.lower() and "0.0.0.0" in caplog.text
    (config,) = launched
    assert (config.host, config.port, config.max_upload_mb) == ("0.0.0.0", 7999, 500)
    assert os.environ["GRADIO_SHARE"] == "False" and os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"
    assert Path(os.environ["GRADIO_TEMP_DIR"]).is_relative_to((tmp_path / "w").resolve())
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="masque"):
        cli.main(["ui", "--workdir", str(tmp_path / "w")])
    assert "anyone" not in caplog.text.lower()


def test_the_command_s_defaults_are_the_config_s() -> None:
    import argparse

    from masque.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    defaults = {a.dest: a.default for a in sub.choices["ui"]._actions}
    config = UIConfig()
    assert (defaults["host"], defaults["port"], defaults["max_upload"]) == (config.host, config.port,
                                                                           config.max_upload_mb)
