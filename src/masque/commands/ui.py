"""``masque ui``: serve the local web UI (Gradio; the optional extra ``masque[ui]``)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from masque.commands._options import int_range, positive_int
from masque.commands._paths import writable_output
from masque.errors import ConfigError

log = logging.getLogger("masque")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "ui", help="open the web UI (swap, train, convert, live camera, evaluate, verify) in a browser",
        description="A local Gradio app over the same API as the CLI, with the same options and defaults. Safe by "
        "default: serves 127.0.0.1 only, never a public share link (GRADIO_SHARE is ignored), uploads capped, no "
        "analytics, files served only from its working folder, one heavy job at a time. Needs the `ui` extra: "
        "pip install 'masque[ui]'.")
    p.add_argument("--host", default="127.0.0.1",
                   help="interface to listen on (default 127.0.0.1: this machine only; 0.0.0.0 lets anyone on "
                   "the network use it, and warns)")
    p.add_argument("--port", type=int_range(1, 65535), default=7860, help="port (default 7860)")
    p.add_argument("--max-upload", type=positive_int, default=500, metavar="MB",
                   help="largest file accepted from the browser, in MB (default 500)")
    p.add_argument("--workdir", type=Path, default=None, metavar="DIR",
                   help="working folder: uploads, face sets, models, outputs; the only files served "
                   "(default: masque-ui-<uid> in the system's temporary folder)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import importlib.util

    if args.workdir is not None:
        writable_output(args.workdir, folder=True)

    from masque.ui.config import UIConfig

    if importlib.util.find_spec("gradio") is None:
        raise ConfigError("the web UI needs Gradio, which is not installed; install the extra: "
                          "pip install 'masque[ui]' (make install does)")
    kwargs = {} if args.workdir is None else {"workdir": args.workdir}
    config = UIConfig(host=args.host, port=args.port, max_upload_mb=args.max_upload, **kwargs)
    warning = config.warning()
    if warning:
        log.warning(warning)
    from masque.ui.app import launch

    print(f"masque ui: http://{args.host}:{args.port} (working folder {config.workdir}); Ctrl-C to stop", flush=True)
    launch(config)
    return 0
