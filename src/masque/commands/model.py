"""``masque model info MODEL_DIR``: what a trained model folder holds."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from masque.commands._paths import require_folder


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("model", help="inspect trained models", description="Inspect a model folder.")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    info = actions.add_parser("info", help="model type, step, size, device trained on")
    info.add_argument("model_dir", metavar="MODEL_DIR", help="folder written by `masque train`")
    info.add_argument("--json", action="store_true", help="print the summary as JSON")
    info.set_defaults(func=run_info)


def model_info(model_dir: str | Path) -> dict[str, Any]:
    """A summary of the model in ``model_dir`` (loads the weights, so a damaged folder is reported).

    Raises:
        ModelError: the folder is missing, incomplete, damaged, or holds a pickle.
    """
    import dataclasses

    from masque.models.exemplars import EXEMPLARS_FILE, load_exemplars
    from masque.models.io import MODEL_FILE, OPTIMIZER_FILE, load_model

    root = Path(model_dir)
    banks = load_exemplars(root)
    model, card = load_model(root)
    files = {name: (root / name).stat().st_size for name in (MODEL_FILE, OPTIMIZER_FILE) if (root / name).exists()}
    previews = sorted((root / "previews").glob("*.png")) if (root / "previews").is_dir() else []
    return {
        "model_dir": str(root), "model": card.model, "step": card.step, "card_version": card.card_version,
        "recipe": card.training_recipe,
        "examples": card.examples, "input_size": model.input_size, "align": dataclasses.asdict(card.align),
        "params": model.param_count(), "gflops_per_example": round(model.flops_per_example() / 1e9, 3),
        "weights_bytes": files.get(MODEL_FILE), "optimizer_bytes": files.get(OPTIMIZER_FILE),
        "device": card.device, "precision": card.precision, "facesets": list(card.facesets),
        "faces": dict(card.faces), "color_shift": {k: list(v) for k, v in card.color_shift.items()},
        "loss": dict(card.loss), "updated": card.updated, "masque_version": card.masque_version,
        "latest_preview": str(previews[-1]) if previews else None,
        "enhancer": dict(card.enhancer) or None,
        "exemplars": ({"a": len(banks["a"].band), "b": len(banks["b"].band),
                       "bytes": (root / EXEMPLARS_FILE).stat().st_size} if banks else None),
    }


def run_info(args: argparse.Namespace) -> int:
    require_folder(args.model_dir, "model folder")
    info = model_info(args.model_dir)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    mib = (info["weights_bytes"] or 0) / 2**20
    loss = info["loss"] or {}
    lines = [
        f"model:        {info['model']} ({info['input_size']}x{info['input_size']} px, {info['params'] / 1e6:.1f} M "
        f"parameters, {info['gflops_per_example']} GFLOP/example forward)",
        f"step:         {info['step']} ({info['examples'] or 0} examples seen), recipe {info['recipe']}",
        f"weights:      {mib:.1f} MiB (safetensors)",
        f"trained on:   {info['device']} ({info['precision']})",
        f"face sets:    A {info['facesets'][0]} ({(info['faces'] or {}).get('a')} faces), "
        f"B {info['facesets'][1]} ({(info['faces'] or {}).get('b')} faces)",
        f"crop:         {info['align']}",
        f"loss:         A {loss.get('total_a', float('nan')):.4f}  B {loss.get('total_b', float('nan')):.4f}",
        f"updated:      {info['updated']}",
        f"preview:      {info['latest_preview']}",
    ]
    enh = info["enhancer"]
    if enh:
        scale = enh.get("arch", {}).get("scale") or 1
        lines.append(f"enhancer:     {scale}x, step {enh.get('step')} (learned on the model at step "
                     f"{enh.get('base_step')}); convert draws faces at {info['input_size'] * scale} px")
    else:
        lines.append("enhancer:     none (`masque train --enhancer` adds one)")
    ex = info["exemplars"]
    if ex:
        lines.append(f"exemplars:    A {ex['a']}, B {ex['b']} faces ({ex['bytes'] / 2**20:.1f} MiB); convert lays "
                     "their detail on the enhanced faces (--detail-transfer)")
    print("\n".join(lines))
    return 0
