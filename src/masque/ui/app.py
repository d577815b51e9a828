"""Build and serve the Gradio app: the available pages in tabs, one heavy job at a time.

:func:`build_app` makes the ``gr.Blocks`` (testable without a server); :func:`launch` serves it
with the safe settings of :class:`~masque.ui.config.UIConfig`.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from masque.ui.config import GRADIO_ENV_OFF, UIConfig
from masque.ui.work import StopFlags, WorkFolder

if TYPE_CHECKING:
    import gradio as gr

    from masque.face import FaceAnalyzer

log = logging.getLogger("masque.ui")

#: the queue every heavy event joins: one job at a time, the others shown their place in line
HEAVY: dict[str, Any] = {"concurrency_id": "heavy", "concurrency_limit": 1}

INTRO = (
    "**masque**: face swapping on this machine. Use it only with the consent of the people whose faces you "
    "use; every output is labelled as synthetic (invisible watermark + signed C2PA manifest), as from the CLI. "
    "One heavy job runs at a time; others wait in line with their place shown.")


@dataclass
class PageContext:
    """What the app gives each page's ``build``.

    Attributes:
        work: the working folder (uploads, face sets, models, job outputs).
        stops: Stop-button flags, per browser session.
        analyzers: face analyzers already built, by ``(detector, fallback)``; shared by the heavy
            jobs, which run one at a time.
    """

    work: WorkFolder
    stops: StopFlags = field(default_factory=StopFlags)
    analyzers: dict[tuple[str, str], FaceAnalyzer] = field(default_factory=dict)

    def analyzer(self, detector: str, fallback: str = "none") -> FaceAnalyzer:
        """A :class:`~masque.face.FaceAnalyzer` for ``detector`` (+ ``fallback``), built once."""
        from masque.face import AnalyzerConfig, FaceAnalyzer

        key = (detector, fallback)
        if key not in self.analyzers:
            self.analyzers[key] = FaceAnalyzer(AnalyzerConfig(detector=detector, fallback=fallback))
        return self.analyzers[key]


def shown(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap an event handler so masque's errors reach the page as a ``gr.Error`` with their message.

    The message is the one the CLI prints after ``masque: error:``; anything else is a bug and keeps
    Gradio's own handling (logged on the server, a generic error in the page).
    """
    import gradio as gr

    from masque.errors import MasqueError, from_os_error

    def convert(exc: Exception) -> gr.Error:
        err = from_os_error(exc) if isinstance(exc, OSError) and not isinstance(exc, MasqueError) else exc
        return gr.Error(str(err), duration=None)

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen(*args: Any, **kwargs: Any) -> Any:
            try:
                yield from fn(*args, **kwargs)
            except (MasqueError, OSError) as exc:
                raise convert(exc) from exc
        return gen

    @functools.wraps(fn)
    def plain(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (MasqueError, OSError) as exc:
            raise convert(exc) from exc
    return plain


def build_app(config: UIConfig) -> gr.Blocks:
    """The app: a tab per available page (:func:`masque.ui.pages.pages`), queued one heavy job at a time."""
    import gradio as gr

    from masque.ui.pages import pages

    ctx = PageContext(WorkFolder(config.workdir))
    with gr.Blocks(title="masque", analytics_enabled=False) as app:
        gr.Markdown(INTRO)
        with gr.Tabs():
            for page in pages():
                if not page.available():
                    log.info("page %s left out: %s not installed", page.name, ", ".join(page.requires))
                    continue
                with gr.Tab(page.title, id=page.name, elem_id=f"page-{page.name}"):
                    page.build(ctx)
    app.queue(max_size=config.queue_size, default_concurrency_limit=1)
    return app


def prepare_environment(config: UIConfig) -> None:
    """Point Gradio's upload folder into the working folder and turn off sharing and analytics.

    Gradio reads these variables; they are set before it is imported, whatever the user's
    environment says (``GRADIO_SHARE=True`` is ignored).
    """
    os.environ.update(GRADIO_ENV_OFF)
    uploads = WorkFolder(config.workdir).uploads
    os.environ["GRADIO_TEMP_DIR"] = str(uploads)


def launch(config: UIConfig, block: bool = True) -> Any:
    """Serve the UI at ``config.host:config.port`` until interrupted (``block=False``: return at once).

    Returns:
        The running ``gr.Blocks`` (call ``close()`` on it when ``block`` is False).
    """
    prepare_environment(config)
    app = build_app(config)
    work = config.workdir.resolve()
    app.launch(server_name=config.host, server_port=config.port, share=False, inbrowser=False,
               max_file_size=f"{config.max_upload_mb}mb", enable_monitoring=False, show_error=True,
               allowed_paths=[str(work)], ssr_mode=False, pwa=False, mcp_server=False, quiet=True,
               prevent_thread_lock=not block, footer_links=[])
    return app
