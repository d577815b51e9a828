"""Options of the web UI and the checks that keep it local and bounded.

Light: no Gradio here, so the options can be checked (and the warning for a public host given)
before the seconds Gradio takes to import.
"""

from __future__ import annotations

import ipaddress
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from masque.errors import ConfigError

#: default upload cap in megabytes (``--max-upload``)
DEFAULT_MAX_UPLOAD_MB = 500
#: environment variables Gradio reads that would make the UI less safe than its options say; they are
#: overridden (share, analytics) whatever their value
GRADIO_ENV_OFF = {"GRADIO_SHARE": "False", "GRADIO_ANALYTICS_ENABLED": "False"}

PUBLIC_HOST_WARNING = (
    "--host {host}: the UI listens on every network interface; ANYONE who can reach this machine on port "
    "{port} can use it (upload files, run swaps, read its outputs). There is no login. Use 127.0.0.1 unless "
    "you mean that.")


def _default_workdir() -> Path:
    return Path(tempfile.gettempdir()) / f"masque-ui-{os.getuid() if hasattr(os, 'getuid') else 'user'}"


@dataclass(frozen=True)
class UIConfig:
    """Options of :func:`masque.ui.app.launch`.

    Attributes:
        host: interface to bind; ``127.0.0.1`` (default) is this machine only.
        port: TCP port (default 7860).
        max_upload_mb: largest file accepted from the browser, in megabytes.
        workdir: the UI's working folder: uploads, face sets, models and outputs live here, and
            only files under it are ever served.
        queue_size: most jobs waiting in the queue (heavy jobs run one at a time).
    """

    host: str = "127.0.0.1"
    port: int = 7860
    max_upload_mb: int = DEFAULT_MAX_UPLOAD_MB
    workdir: Path = field(default_factory=_default_workdir)
    queue_size: int = 16

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ConfigError(f"port must be from 1 to 65535, got {self.port}")
        if self.max_upload_mb < 1:
            raise ConfigError(f"--max-upload must be at least 1 (MB), got {self.max_upload_mb}")
        if self.queue_size < 1:
            raise ConfigError(f"queue size must be at least 1, got {self.queue_size}")

    @property
    def public(self) -> bool:
        """True when ``host`` is reachable from other machines (not a loopback address or ``localhost``)."""
        return not is_loopback(self.host)

    def warning(self) -> str | None:
        """The warning to show before serving on a public interface, else None."""
        return PUBLIC_HOST_WARNING.format(host=self.host, port=self.port) if self.public else None


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1).

    >>> is_loopback("127.0.0.1"), is_loopback("0.0.0.0"), is_loopback("localhost")
    (True, False, True)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve anywhere
        return False
