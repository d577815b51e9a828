"""``masque ui``: a local web UI (Gradio) over masque's Python API.

Every page calls the same library functions the CLI calls, with the same defaults (taken from the
library's config dataclasses, and checked against the CLI's parser by ``tests/ui``); it adds no
logic of its own. A page is a small module in :mod:`masque.ui.pages`, listed in
:func:`masque.ui.pages.pages`; it appears only when the feature it needs can be imported
(:attr:`~masque.ui.pages.Page.requires`).

Safe by default (:class:`~masque.ui.config.UIConfig`): bound to 127.0.0.1, never a public share
link (``GRADIO_SHARE`` is ignored), uploads capped (500 MB), analytics and the monitoring
endpoint off, files served only from the UI's own working folder, one heavy job at a time.

Gradio is the optional extra ``masque[ui]``; it is imported only when the UI is built.
"""

from masque.ui.config import UIConfig

__all__ = ["UIConfig"]
