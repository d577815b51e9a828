"""The driver of ``--ray``: inputs to Ray tasks, results back, one progress bar, one summary.

- :func:`connect`: ``local`` starts a Ray instance on this machine, ``auto`` joins the cluster this
  machine belongs to (``ray start`` ran here), anything else is a cluster address
  (``ray://host:10001`` or ``host:6379``). Ray is imported here only: it is the optional extra
  ``masque[cluster]``.
- :func:`run_frames` (``convert``, ``swap``): each input file is a task; a video longer than
  ``segment_frames * 2`` is cut at keyframes into segments, one task each, joined in order with
  the audio by the driver, which then signs it (C2PA). Outputs go to shared storage: every worker
  must see the input and output paths (NFS, a shared volume, or one machine).
- :func:`run_extract` (``extract``): tasks return faces; the driver alone writes the face set.
- :func:`run_detect` (``detect``): each file a task (a video whole: its scores are per frame, so
  there is nothing to join); tasks return verdicts, the driver prints them and writes the report.

Faults: a task whose worker dies (killed, out of memory, node lost) is retried by Ray on another
worker (``retries`` times); a task that raises (a damaged input) is not retried, and its input is
listed with the reason in :attr:`ClusterSummary.failed` while the other inputs finish. Writes are
atomic and keyed (output names, face set resume keys), so a retried task leaves no partial or
duplicate result; the temporary files of a killed task are removed at the end of the run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from masque.cluster import jobs
from masque.cluster.segments import Segment, join_segments, plan_segments
from masque.errors import InvalidMediaError, MasqueError, MissingDependencyError, WorkerDiedError

log = logging.getLogger(__name__)

Progress = Callable[[int, int | None], None]

#: Ray's retries of a task whose worker died
RETRIES = 3
#: a video is cut into segments of at least this many frames (about 10 s at 25 fps)
SEGMENT_FRAMES = 250
#: hidden folder beside the outputs for segment files
PARTS_DIR = ".masque-parts"


@dataclass
class ClusterSummary:
    """What a ``--ray`` run did.

    Attributes:
        frames: frames written (frames analysed, for extract).
        outputs: files written, in input order.
        failed: ``(input, reason)`` of each input that failed; the others were finished.
        tasks: Ray tasks run (files and segments).
        seconds: wall time, connection included; ``work_seconds`` excludes it.
        faces: faces added (extract).
    """

    frames: int = 0
    outputs: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    tasks: int = 0
    seconds: float = 0.0
    work_seconds: float = 0.0
    faces: int = 0

    @property
    def fps(self) -> float:
        return self.frames / self.work_seconds if self.work_seconds > 0 else 0.0


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise MissingDependencyError("--ray needs Ray, which is not installed; install the cluster extra: "
                                     "pip install 'masque[cluster]'") from None
    return ray


def connect(address: str) -> Any:
    """Connect this process to Ray (``local``, ``auto`` or an address) and return the ``ray`` module."""
    ray = _ray()
    if ray.is_initialized():
        return ray
    kwargs: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
    try:
        if address == "local":  # workers of this machine import masque as this process does (a checkout too)
            path = os.environ.get("PYTHONPATH")
            ray.init(include_dashboard=False, runtime_env={"env_vars": {"PYTHONPATH": path}} if path else None,
                     **kwargs)
        else:
            ray.init(address=address, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise WorkerDiedError(f"cannot connect to the Ray cluster at {address!r}: {exc}; start one with "
                              "`ray start --head`, or give --ray local") from None
    return ray


@dataclass(frozen=True)
class _Task:
    input: Path
    frames: int  # weight in the progress bar
    fn: Callable[..., Any]
    args: tuple[Any, ...]


def run_tasks(ray: Any, tasks: Sequence[_Task], progress: Progress | None = None
              ) -> list[tuple[_Task, Any, str | None]]:
    """Run every task on the cluster; ``(task, result, None)`` or ``(task, None, reason)`` in task order."""
    remote = ray.remote(max_retries=RETRIES, retry_exceptions=False, num_cpus=1)(_call)
    refs = {remote.remote(t.fn, *t.args): i for i, t in enumerate(tasks)}
    out: list[tuple[_Task, Any, str | None]] = [(t, None, "not run") for t in tasks]
    total, done = sum(t.frames for t in tasks), 0
    if progress:
        progress(0, total)
    pending = list(refs)
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        i = refs[ready[0]]
        try:
            out[i] = (tasks[i], ray.get(ready[0]), None)
        except ray.exceptions.RayTaskError as exc:  # the task raised: its input's fault, not retried
            cause = exc.cause if isinstance(exc.cause, BaseException) else exc
            out[i] = (tasks[i], None, " ".join(str(cause).split()) or type(cause).__name__)
        except ray.exceptions.RayError as exc:  # workers died on every retry
            out[i] = (tasks[i], None, f"its worker died {RETRIES + 1} times ({type(exc).__name__})")
        done += tasks[i].frames
        if progress:
            progress(done, total)
    return out


def _call(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


def run_frames(address: str, recipe: jobs.FrameRecipe, plan: Sequence[tuple[Path, Path]],
               progress: Progress | None = None, segment_frames: int = SEGMENT_FRAMES) -> ClusterSummary:
    """Process each ``(input, output)`` of ``plan`` on the cluster with a frames recipe (convert, swap).

    Args:
        address: ``local``, ``auto`` or a Ray address.
        recipe: the command's options (:class:`~masque.cluster.jobs.ConvertRecipe`, ``SwapRecipe``).
        plan: inputs and their outputs (from :func:`masque.compose.files.plan_outputs`), on shared storage.
        progress: ``(frames done, frames)`` across the cluster.
        segment_frames: least frames of a segment when cutting a long video.
    """
    from masque.media import is_video_path, probe_video
    from masque.provenance import Labeler

    start = time.perf_counter()
    ray = connect(address)
    work = time.perf_counter()
    summary = ClusterSummary()
    tasks: list[_Task] = []
    segmented: dict[Path, tuple[Path, list[Path]]] = {}
    for src, dst in plan:
        try:
            segments = plan_segments(src, segment_frames) if is_video_path(src) else []
        except InvalidMediaError as exc:
            summary.failed.append((src, str(exc)))
            continue
        if len(segments) <= 1:
            frames = segments[0].end if segments else 1
            tasks.append(_Task(src, frames, jobs.frames_file, (recipe, str(src), str(dst))))
            continue
        parts = [dst.parent / PARTS_DIR / f"{dst.stem}.{s.index:04d}{dst.suffix}" for s in segments]
        segmented[src] = (dst, parts)
        tasks += [_Task(src, s.frames, jobs.frames_segment, (recipe, str(src), s, str(p)))
                  for s, p in zip(segments, parts)]
    results = run_tasks(ray, tasks, progress)
    summary.tasks = len(tasks)
    failed: dict[Path, str] = {}
    for task, result, reason in results:
        if reason is not None:
            failed.setdefault(task.input, reason)
        elif task.fn is jobs.frames_file:
            summary.frames += int(result)
            summary.outputs.append(Path(task.args[2]))
    for src, (dst, parts) in segmented.items():
        if src in failed:
            continue
        info = probe_video(src)
        summary.frames += join_segments(parts, dst, info.fps, src if info.has_audio else None)
        Labeler(recipe.labels, run_id=recipe.run_id).finalize(dst)  # the manifest signs the joined file
        summary.outputs.append(dst)
    summary.failed += sorted(failed.items())
    _clean(plan, [p for _, parts in segmented.values() for p in parts])
    summary.work_seconds = time.perf_counter() - work
    summary.seconds = time.perf_counter() - start
    return summary


def _clean(plan: Sequence[tuple[Path, Path]], parts: list[Path]) -> None:
    """Remove segment files and the temporary files a killed task left (``.NAME.*`` beside each output)."""
    for p in parts:
        p.unlink(missing_ok=True)
    folders = {p.parent for p in parts}
    for folder in folders:
        for leftover in folder.glob(".*"):
            leftover.unlink(missing_ok=True)
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    for _, dst in plan:
        for leftover in dst.parent.glob(f".{dst.name}.*"):
            leftover.unlink(missing_ok=True)


def run_extract(address: str, inputs: Sequence[Path], output: Path, config: Any, progress: Progress | None = None,
                segment_frames: int = SEGMENT_FRAMES) -> ClusterSummary:
    """Extract every face of ``inputs`` into the face set ``output`` on the cluster; resumes like a local run.

    Workers analyse files (or segments of long videos) and return the faces; this process alone
    writes the PNGs and the SQLite index, frame by frame under the face set's resume keys.
    """
    from masque.atomic import atomic_write_bytes
    from masque.faceset.store import FaceSet
    from masque.media import is_video_path, probe_video

    start = time.perf_counter()
    ray = connect(address)
    work = time.perf_counter()
    summary = ClusterSummary()
    with FaceSet(output, create=True, size=config.size, centering=config.centering) as fs:
        tasks: list[_Task] = []
        sources: dict[Path, int] = {}
        for src in inputs:
            key = str(src.resolve())
            try:
                if is_video_path(src):
                    info = probe_video(src)
                    sid = fs.add_source(key, "video", info.width, info.height, float(info.fps), info.frames)
                    segments: list[Segment | None] = list(plan_segments(src, segment_frames))
                else:
                    sid, segments = fs.add_source(key, "image", 0, 0, 0.0, 1), [None]
            except MasqueError as exc:
                summary.failed.append((src, str(exc)))
                continue
            if fs.source_done(key):
                continue
            sources[src] = sid
            done = frozenset(fs.frames_done(sid))
            tasks += [_Task(src, s.frames if s else 1, jobs.extract_frames, (config, sid, str(src), s, done))
                      for s in segments]
        failed: dict[Path, str] = {}
        for task, result, reason in run_tasks(ray, tasks, progress):
            if reason is not None:
                failed.setdefault(task.input, reason)
                continue
            for face_out in result:
                for record, png in zip(face_out.records, face_out.pngs):
                    atomic_write_bytes(fs.root / record.image, png)
                fs.commit_frame(sources[task.input], face_out.index, face_out.records)
                summary.frames += 1
                summary.faces += len(face_out.records)
        for src, sid in sources.items():
            if src not in failed:
                fs.mark_source_done(sid)
        summary.failed += sorted(failed.items())
        summary.tasks = len(tasks)
    summary.work_seconds = time.perf_counter() - work
    summary.seconds = time.perf_counter() - start
    return summary


def run_detect(address: str, recipe: jobs.DetectRecipe, inputs: Sequence[Path], progress: Progress | None = None
               ) -> tuple[ClusterSummary, list[Any]]:
    """Score each file of ``inputs`` (as given: relative paths are the driver's) on the cluster.

    Returns:
        The summary (``frames``: frames scored; ``failed``: inputs not scored, with the reason) and,
        in input order, each input's :class:`~masque.forensics.detect.FileVerdict` or the reason
        (``str``) it was not scored, with paths as given here, as a local run names them.
    """
    from masque.media import is_video_path, probe_video

    start = time.perf_counter()
    results: list[Any] = [_missing(src) for src in inputs]  # told here, as locally; no task, no connection
    tasks = []
    for src, known in zip(inputs, results):
        if known is not None:
            continue
        weight = 1  # progress in frames to score; a video that cannot be probed fails on its worker
        if is_video_path(src):
            with contextlib.suppress(MasqueError):
                weight = max(1, -(-probe_video(src).frames // recipe.config.every))
        tasks.append(_Task(src, weight, jobs.detect_one, (recipe, str(src.absolute()))))
    ray = connect(address) if tasks else None
    work = time.perf_counter()
    done = iter(run_tasks(ray, tasks, progress) if tasks else [])
    for k, known in enumerate(results):
        if known is None:
            task, result, reason = next(done)
            results[k] = _as_given(result if reason is None else reason, task.args[1], str(task.input))
    summary = ClusterSummary(tasks=len(tasks))
    for src, out in zip(inputs, results):
        if isinstance(out, str):
            summary.failed.append((src, out))
        else:
            summary.frames += out.frames
    summary.work_seconds = time.perf_counter() - work
    summary.seconds = time.perf_counter() - start
    return summary, results


def _missing(path: Path) -> str | None:
    """The error a local ``detect`` gives a file that does not exist, or ``None`` when it does."""
    from masque.forensics.faces import iter_frames

    if path.exists():
        return None
    try:
        next(iter_frames(path))
    except MasqueError as exc:
        return str(exc)
    return None


def _as_given(result: Any, absolute: str, given: str) -> Any:
    """A worker's verdict or reason with the absolute path it was given put back as the user gave it."""
    import dataclasses

    if absolute == given:
        return result
    if isinstance(result, str):
        return result.replace(absolute, given)
    labels = result.labels and {k: v.replace(absolute, given) if isinstance(v, str) else v
                                for k, v in result.labels.items()}
    return dataclasses.replace(result, path=result.path.replace(absolute, given), labels=labels)
