"""Widgets several pages share: the labelling options, the detector choice, a job's result."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from masque.ui.work import upload_path

UNLABELLED = ("Unlabelled: the output carries NO watermark and NO C2PA manifest; nothing in the file says it is "
              "synthetic. Label it yourself before you share it.")
#: the detectors the CLI's --detector offers
DETECTORS = ["hog", "cnn", "mediapipe"]


@dataclass
class LabelWidgets:
    """The CLI's labelling group (``--no-label``, ``--visible-label``, ``--sign-cert``, ``--sign-key``)."""

    no_label: gr.Checkbox
    visible_label: gr.Checkbox
    sign_cert: gr.File
    sign_key: gr.File

    def inputs(self) -> list[Any]:
        return [self.no_label, self.visible_label, self.sign_cert, self.sign_key]


def label_widgets(prefix: str) -> LabelWidgets:
    """Lay out the labelling options (closed accordion; defaults: labelled, no visible tag, masque's key)."""
    with gr.Accordion("Labelling (outputs are labelled as synthetic)", open=False):
        no_label = gr.Checkbox(False, label="--no-label: write without watermark or manifest (warns)",
                               elem_id=f"{prefix}-no-label")
        visible = gr.Checkbox(False, label='--visible-label: also draw a small "AI-generated" tag',
                              elem_id=f"{prefix}-visible-label")
        with gr.Row():
            cert = gr.File(label="--sign-cert: certificate chain (PEM), instead of masque's local key",
                           file_types=[".pem", ".crt"], elem_id=f"{prefix}-sign-cert")
            key = gr.File(label="--sign-key: private key for the certificate (PEM)", file_types=[".pem", ".key"],
                          elem_id=f"{prefix}-sign-key")
    return LabelWidgets(no_label, visible, cert, key)


def label_config(no_label: bool, visible: bool, cert: Any, key: Any, kind: str = "composite") -> Any:
    """The :class:`~masque.provenance.LabelConfig` for the labelling widgets' values (warns when off)."""
    from masque.provenance import LabelConfig

    if no_label:
        gr.Warning(UNLABELLED)
    return LabelConfig(enabled=not no_label, visible_label=bool(visible), kind=kind,  # type: ignore[arg-type]
                       sign_cert=upload_path(cert, "certificate") if cert else None,
                       sign_key=upload_path(key, "key") if key else None)


def media_result(path: Path, is_video: bool) -> tuple[Any, Any, str]:
    """Updates for an (image, video, download) triple of result widgets showing ``path``."""
    if is_video:
        return gr.update(value=None, visible=False), gr.update(value=str(path), visible=True), str(path)
    return gr.update(value=str(path), visible=True), gr.update(value=None, visible=False), str(path)


def optional_number(text: Any, flag: str, kind: type = int) -> Any:
    """The value of a text box standing for an optional CLI number: None when empty, else ``kind(text)``.

    (A ``gr.Number`` left empty shows 0 in the page, which for ``--reference`` or ``--threshold`` would
    read as a choice.)
    """
    from masque.errors import ConfigError

    if text is None or str(text).strip() == "":
        return None
    try:
        return kind(str(text).strip())
    except ValueError:
        raise ConfigError(f"{flag} must be a {'whole ' if kind is int else ''}number or empty; got {text!r}") from None
