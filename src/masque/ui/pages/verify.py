"""Verify page: ``masque verify``: each file's C2PA manifest and watermark."""

from __future__ import annotations

from typing import Any

import gradio as gr

from masque.ui.app import HEAVY, PageContext, shown
from masque.ui.pages import Page
from masque.ui.work import upload_paths


def verify_rows(files: Any) -> list[list[str]]:
    """One row per file: name, labelled, manifest status, signer, watermark (confidence), error."""
    from masque.errors import MasqueError
    from masque.provenance import verify_file
    from masque.provenance.watermark import WatermarkCodec

    codec = WatermarkCodec()
    rows = []
    for path in upload_paths(files, "file to verify"):
        try:
            r = verify_file(path, codec)
        except MasqueError as exc:
            rows.append([path.name, "unreadable", "", "", "", str(exc)])
            continue
        m, w = r.manifest, r.watermark
        mark = f"found, {w.confidence:.2f}" if w.found else f"not found ({w.confidence:.2f})"
        signer = f"{m.signer} ({'trusted' if m.trusted else 'untrusted'})" if m.signer else ""
        rows.append([path.name, "LABELLED" if r.labelled else "NOT LABELLED", m.status, signer, mark,
                     m.digital_source_type or ""])
    return rows


def build(ctx: PageContext) -> None:
    gr.Markdown("Check whether images or videos are labelled as synthetic (`masque verify`): the C2PA manifest "
                "(valid / present / tampered / absent) and the invisible watermark.")
    files = gr.File(file_count="multiple", label="Images or videos", elem_id="verify-files")
    run = gr.Button("Verify", variant="primary", elem_id="verify-run")
    table = gr.Dataframe(headers=["file", "label", "manifest", "signer", "watermark", "source type / error"],
                         interactive=False, elem_id="verify-table")
    run.click(shown(verify_rows), [files], [table], **HEAVY)


PAGE = Page("verify", "Verify", build, cli=("verify",))
