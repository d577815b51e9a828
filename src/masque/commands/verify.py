"""``masque verify FILE...``: report each file's C2PA manifest and watermark.

Exit status: 0 when every file carries a label, 1 when any does not, 2 when any cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from masque.errors import InputNotFoundError, MasqueError

if TYPE_CHECKING:  # masque.provenance loads OpenCV, PyAV and c2pa: imported in run(), not for --help
    from masque.provenance import VerifyReport

EXIT_LABELLED, EXIT_UNLABELLED, EXIT_UNREADABLE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``verify`` parser."""
    parser = subparsers.add_parser(
        "verify", help="check whether images or videos are labelled as synthetic",
        description="Report, per file, its C2PA manifest (valid / present / tampered / absent, with its "
        "assertions) and its invisible watermark (found, confidence, payload). Exit status: 0 when every "
        "file carries a label, 1 when any does not, 2 when any cannot be read.")
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="images or videos to check")
    parser.add_argument("--json", action="store_true", help="print one JSON array of reports")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Verify every file; print reports; return the exit status."""
    from masque.provenance import verify_file
    from masque.provenance.watermark import WatermarkCodec

    codec = WatermarkCodec()
    entries: list[dict[str, Any]] = []
    unreadable = unlabelled = False
    for path in args.files:
        try:
            if path.is_dir():
                raise InputNotFoundError(f"{path} is a folder; give the image or video files in it")
            report = verify_file(path, codec)
        except MasqueError as exc:
            unreadable = True
            entries.append({"path": str(path), "error": str(exc)})
            if not args.json:
                print(f"masque: error: {exc}", file=sys.stderr)
            continue
        unlabelled |= not report.labelled
        entries.append(report.to_dict())
        if not args.json:
            print(format_report(report))
    if args.json:
        print(json.dumps(entries, indent=2, default=str))
    return EXIT_UNREADABLE if unreadable else EXIT_UNLABELLED if unlabelled else EXIT_LABELLED


def format_report(report: VerifyReport) -> str:
    """A few human-readable lines for one file."""
    m, w = report.manifest, report.watermark
    lines = [f"{report.path}: {'LABELLED' if report.labelled else 'NOT LABELLED'} ({report.media})"]
    signer = f", signer {m.signer} ({'trusted' if m.trusted else 'untrusted'})" if m.signer else ""
    lines.append(f"  manifest: {m.status}{signer}")
    if m.detail:
        lines.append(f"    {m.detail}")
    if m.failures and m.status != "valid":
        lines.append(f"    failures: {', '.join(m.failures)}")
    if m.digital_source_type:
        lines.append(f"    digitalSourceType: {m.digital_source_type}")
    if m.software_agent:
        lines.append(f"    softwareAgent: {m.software_agent}")
    if m.assertions:
        lines.append(f"    assertions: {', '.join(str(a['label']) for a in m.assertions)}")
    frames = f", {w.frames_found}/{w.frames_checked} sampled frames" if report.media == "video" else ""
    if w.found:
        lines.append(f"  watermark: found, confidence {w.confidence:.2f}, masque {w.version}, run {w.run_id}{frames}")
    else:
        lines.append(f"  watermark: not found (confidence {w.confidence:.2f}{frames})")
    if report.run_ids_agree is False:
        lines.append("  warning: the manifest and the watermark name different runs")
    return "\n".join(lines)
