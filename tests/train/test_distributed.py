"""DDP training: two CPU ranks hold identical weights, the result resumes in one process; stops are clean."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from masque.models import load_model
from masque.models.io import STATE_FILE
from masque.train.distributed import Group, free_port, process_group
from masque.train.trainer import TrainConfig, Trainer

FAST = dict(model="lightweight", batch=4, lr=3e-4, save_every=1000, preview_every=1000, log_every=5,
            workers=0, preview_faces=2, label_previews=False, threads=1)


def _rank(rank: int, facesets: tuple[Path, Path], root: Path, out: Path, steps: int) -> None:
    """One rank of a 2-process group: train, then write this rank's weights and losses to ``out``."""
    from masque.train import trainer as trainer_mod

    group = Group(rank=rank, world=2, local_rank=rank, local_world=2)
    save = trainer_mod._RunContext.save

    def save_and_dump(self: trainer_mod._RunContext, step: int) -> None:  # every rank's weights, for the test
        save_file({k: v.detach().contiguous() for k, v in self.model.state_dict().items()},
                  str(out / f"rank{rank}.safetensors"))
        save(self, step)

    trainer_mod._RunContext.save = save_and_dump  # type: ignore[method-assign]
    with process_group(group, torch.device("cpu")):
        summary = Trainer(*facesets, root, TrainConfig(steps=steps, **FAST), group).run()
    (out / f"rank{rank}.json").write_text(json.dumps({"step": summary.step, "history": summary.history}))


def test_two_ranks_hold_identical_weights_and_resume_in_one_process(facesets, tmp_path, monkeypatch) -> None:
    root, out = tmp_path / "model", tmp_path / "out"
    out.mkdir()
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(free_port()))
    torch.multiprocessing.start_processes(_rank, args=(facesets, root, out, 6), nprocs=2, join=True,
                                          start_method="spawn")
    w0, w1 = load_file(str(out / "rank0.safetensors")), load_file(str(out / "rank1.safetensors"))
    assert w0.keys() == w1.keys() and len(w0) > 10
    assert all(torch.equal(w0[k], w1[k]) for k in w0), "DDP ranks diverged"
    # each rank saw its own augmented batches (per-rank seeds): their local losses differ
    h0, h1 = (json.loads((out / f"rank{r}.json").read_text())["history"] for r in (0, 1))
    assert h0[-1][1] != h1[-1][1]
    # rank 0 alone wrote the folder: the weights every rank holds
    model, card = load_model(root)
    assert card.step == 6 and all(torch.equal(v, w0[k]) for k, v in model.state_dict().items())
    state = json.loads((root / STATE_FILE).read_text())
    assert state["examples"] == 6 * 2 * 4 * 2  # two ranks of 4 faces per side per step
    # and the folder resumes in one process, from the two-rank run's loss
    after = Trainer(*facesets, root, TrainConfig(steps=8, **FAST)).run()
    assert after.resumed and after.start_step == 6 and after.step == 8
    assert after.history[-1][1] < 1.25 * h0[-1][1]
    assert json.loads((root / STATE_FILE).read_text())["examples"] == 6 * 2 * 4 * 2 + 2 * 2 * 4


def test_group_from_torchrun_environment(monkeypatch) -> None:
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(k, raising=False)
    assert not Group.from_env().distributed and Group.from_env().main
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    g = Group.from_env()
    assert (g.rank, g.world, g.local_rank, g.local_world, g.main) == (3, 4, 1, 2, False)
    assert g.seed(5) != Group().seed(5) and Group().seed(5) == 5
    assert g.threads() == max(1, len(os.sched_getaffinity(0)) // 2)


def _start(facesets: tuple[Path, Path], root: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "masque", "train", "-A", str(facesets[0]), "-B", str(facesets[1]), "-m", str(root),
           "--model", "lightweight", "--batch", "4", "--steps", "100000", "--save-every", "5",
           "--preview-every", "100000", "--workers", "0", "--nproc", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while not (root / STATE_FILE).exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.5)  # the first checkpoint (step 5): every rank is training
    return proc


def _ranks(launcher: int) -> list[int]:
    children = Path(f"/proc/{launcher}/task/{launcher}/children").read_text().split()
    return [int(c) for c in children]


@pytest.mark.slow
def test_ctrl_c_stops_every_rank_after_the_same_step_and_saves(facesets, tmp_path) -> None:
    root = tmp_path / "model"
    proc = _start(facesets, root)
    try:
        time.sleep(3)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "interrupted: step" in out and out.count("interrupted") == 1  # rank 0 alone prints
    step = int(out.split("interrupted: step ")[1].split()[0])
    _, card = load_model(root)
    assert card.step == step >= 5


@pytest.mark.slow
def test_a_killed_rank_stops_the_group_with_the_last_checkpoint_intact(facesets, tmp_path) -> None:
    root = tmp_path / "model"
    proc = _start(facesets, root)
    try:
        ranks = _ranks(proc.pid)
        assert len(ranks) == 2
        time.sleep(2)
        os.kill(ranks[1], signal.SIGKILL)
        _, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1 and "rank 1 was killed by SIGKILL" in err and "resume" in err, err
    assert "Traceback" not in err
    _, card = load_model(root)  # rank 0 saved the last completed step: a whole, loadable model
    assert card.step >= 5
    after = Trainer(*[str(f) for f in facesets], root, TrainConfig(steps=card.step + 2, **FAST)).run()
    assert after.resumed and after.step == card.step + 2


def _adversary_rank(rank: int, out: Path, sync: bool) -> None:
    """One rank: two discriminator updates on this rank's own random faces; writes the weights."""
    from masque.train.gan import Adversary

    group = Group(rank=rank, world=2, local_rank=rank, local_world=2)
    with process_group(group, torch.device("cpu")):
        adversary = Adversary(torch.device("cpu"), 1e-3, (0.5, 0.999), seed=0,
                              sync=group.average_gradients if sync else None)
        gen = torch.Generator().manual_seed(rank)  # each rank sees different faces, as under DDP
        for _ in range(2):
            faces = [torch.rand(2, 3, 32, 32, generator=gen) for _ in range(3)]
            adversary.step({"a": tuple(faces), "b": tuple(faces)}, 1e-3)  # type: ignore[dict-item]
        save_file({k: v.detach().contiguous() for k, v in adversary.nets.state_dict().items()},
                  str(out / f"d{rank}.safetensors"))


@pytest.mark.parametrize("sync", [True, False])
def test_gan_discriminators_stay_identical_across_ranks_only_with_averaged_gradients(sync, tmp_path,
                                                                                     monkeypatch) -> None:
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(free_port()))
    torch.multiprocessing.start_processes(_adversary_rank, args=(tmp_path, sync), nprocs=2, join=True,
                                          start_method="spawn")
    d0, d1 = (load_file(str(tmp_path / f"d{r}.safetensors")) for r in (0, 1))
    same = all(torch.equal(d0[k], d1[k]) for k in d0)
    assert same == sync  # without the average each rank's discriminators drift on their own faces
