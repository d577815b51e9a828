"""The pages: every option of the CLI commands they cover is on the page, with the CLI's default;
a page whose feature is missing is left out."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("gradio", reason="the UI extra is not installed (pip install 'masque[ui]')")

import gradio as gr

from masque.cli import build_parser
from masque.ui import pages as pages_module
from masque.ui.app import build_app
from masque.ui.config import UIConfig
from masque.ui.pages import Page

#: CLI options a page offers differently (the UI names its own files; a checkbox says the opposite)
NOT_A_WIDGET = {
    "swap": {"-s", "-t", "-o"},  # the uploads and the download
    "extract": {"-o"},  # the face set name
    "train": {"-A", "-B", "-m", "--no-amp"},  # face set names, model name; "mixed precision" ticked
    "convert": {"-m", "-o"},  # the model list; the download
    "evaluate": {"--swapped", "--original", "--source", "--json", "--report"},  # uploads; the page shows both
    "verify": {"--json"},  # the table
    "animate": {"-s", "-d", "-o"},  # the uploads and the download
    "reenact": {"-s", "-t", "-o"},
    "detect": {"--report", "--json"},  # the page always writes the report (zip) and shows a table
    "liveness": {"--report", "--json"},
    # the upload and the download; `style train`'s options (training a style model stays in the CLI)
    "style": {"-o", "--content", "-m", "--train-size", "--batch", "--train-steps", "--minutes", "--width", "--blocks",
              "--save-every", "--preview-every"},
}
#: CLI options the pages do not offer (yet), with why; the README's Web UI section lists them as limits
NOT_ON_A_PAGE = {
    "--ray": "the UI runs jobs in its own process on this machine; a Ray cluster needs inputs and outputs on "
             "storage every worker sees, which the working folder is not",
    "--nproc": "the Train page trains in the server process (live previews, Stop); DDP would spawn the ranks",
    "--occlusion-model": "another occlusion model than the one masque ships: a file path, for the CLI",
    "--enhancer": "the enhancer stage trains from the CLI (`masque train --enhancer`); the Train page's convert "
                  "uses the model folder's enhancer when it has one",
}
#: parser defaults the page shows as a number because the widget has no "unset" (0 = no limit / measured)
UNSET_AS_ZERO = {"--steps", "--minutes", "--threads"}


def _parsers() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _widgets(app: gr.Blocks) -> dict[str, list[Any]]:
    """``--flag`` -> the components whose label starts with it."""
    found: dict[str, list[Any]] = {}
    for block in app.blocks.values():
        label = getattr(block, "label", None)
        m = re.match(r"(--[a-z-]+)", str(label or ""))
        if m:
            found.setdefault(m.group(1), []).append(block)
    return found


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> gr.Blocks:
    return build_app(UIConfig(workdir=tmp_path_factory.mktemp("ui")))


def test_every_cli_option_of_a_page_is_there_with_the_cli_default(app: gr.Blocks) -> None:
    widgets, parsers = _widgets(app), _parsers()
    commands = {c for page in pages_module.pages() for c in page.cli}
    assert commands >= {"swap", "extract", "train", "convert", "evaluate", "verify", "animate", "reenact",
                        "detect", "liveness"}
    missing, differ = [], []
    for command in sorted(commands):
        for action in parsers[command]._actions:
            flags = [f for f in action.option_strings if f.startswith("--")] or action.option_strings
            if not action.option_strings or action.dest == "help" or set(action.option_strings) & NOT_A_WIDGET[command]:
                continue
            if set(action.option_strings) & NOT_ON_A_PAGE.keys():
                continue
            flag = flags[0]
            if flag not in widgets:
                missing.append(f"{command} {flag}")
                continue
            expected = 0 if flag in UNSET_AS_ZERO and action.default is None else action.default
            if (command, flag) == ("extract", "--workers"):  # None: "cores, max 2", which the page shows
                from masque.faceset.extract import ExtractConfig

                expected = ExtractConfig().workers
            values = [w.value for w in widgets[flag]]
            normal = [None if v in (None, "", []) else v for v in values]
            expected = None if expected == [] else expected
            if isinstance(expected, Path):
                expected = str(expected)
            if isinstance(expected, tuple):  # a list option (VGG layers): the page shows it comma-separated
                expected = ",".join(expected)
            if expected not in normal and not (expected is False and not any(normal)) \
                    and not (expected is None and None in normal):
                differ.append(f"{command} {flag}: CLI {expected!r}, page {values!r}")
    assert not missing, f"CLI options with no widget on any page: {missing}"
    assert not differ, f"page defaults that differ from the CLI's: {differ}"


def test_each_page_is_a_tab(app: gr.Blocks) -> None:
    tabs = [b for b in app.blocks.values() if isinstance(b, gr.Tab)]
    assert [t.label for t in tabs] == [p.title for p in pages_module.pages() if p.available()]
    assert {p.name for p in pages_module.pages()} >= {"swap", "train", "animate", "live", "evaluate", "detect",
                                                          "verify"}


def test_a_page_appears_only_when_its_feature_exists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def build(ctx: Any) -> None:
        gr.Markdown("future")

    future = Page("future", "Future", build, requires=("masque.no_such_feature",))
    present = Page("present", "Present", build, requires=("masque.oneshot",))
    assert not future.available() and present.available()
    assert not Page("x", "X", build, requires=("no_such_package.sub",)).available()

    class Module:
        def __init__(self, page: Page) -> None:
            self.PAGE = page

    monkeypatch.setattr(pages_module, "_modules", lambda: [Module(present), Module(future)])
    app = build_app(UIConfig(workdir=tmp_path))
    assert [b.label for b in app.blocks.values() if isinstance(b, gr.Tab)] == ["Present"]
    monkeypatch.setattr(pages_module, "_modules", lambda: [Module(present), Module(present)])
    with pytest.raises(ValueError, match="share a name"):
        pages_module.pages()


def test_heavy_jobs_run_one_at_a_time(app: gr.Blocks) -> None:
    heavy = [fn for fn in app.fns.values() if fn.concurrency_id == "heavy"]
    assert len(heavy) >= 6 and all(fn.concurrency_limit == 1 for fn in heavy)
    assert app.analytics_enabled is False


def test_train_page_options_make_the_trainer_config() -> None:
    """The page's option values, as a Train click passes them, build the ``TrainConfig`` it trains with."""
    from masque.train.trainer import TrainConfig
    from masque.ui.pages.train import _train_options

    with gr.Blocks():
        options = _train_options()
    values = {k: w.value for k, w in options.widgets.items()}
    values.update(balance=1.0, loss=0.5, model="lightweight")
    config = TrainConfig(**options.values(tuple(values[k] for k in options.widgets)))
    assert (config.balance, config.loss.background, config.model) == (1.0, 0.5, "lightweight")
    assert config.schedule.warmup == TrainConfig().schedule.warmup and config.steps is None
