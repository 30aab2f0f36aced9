"""Training with ultralytics, offline, resumable and in chunks (what a 2-core CPU needs).

- ``train(data, model_yaml="yolo11n.yaml")``: from scratch (ultralytics ships the model yamls; nothing
  is downloaded: ``pretrained=False``, ``plots=False``, fonts from `offline_assets`).
- ``train(data, from_weights="models/frontage-n.pt")``: fine-tune (re-learning).
- ``chunk=N``: stop after N epochs of the full schedule, leaving ``last.pt`` resumable; ``resume=True``
  continues ``last.pt`` (optionally for another chunk, optionally on a rebuilt dataset).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from detector.training.offline_assets import apply_offline_env, install_fonts


class ChunkDone(Exception):
    """Raised from a callback after the chunk's last epoch is saved (``last.pt`` stays resumable)."""


@dataclass
class TrainOptions:
    data: Path
    from_weights: Path | None = None
    model_yaml: str = "yolo11n.yaml"
    epochs: int = 30
    imgsz: int = 416
    batch: int = 16
    device: str | None = None  # None: first GPU when there is one, else CPU
    project: Path = Path("runs/train")
    name: str = "frontage-n"
    resume: bool = False
    chunk: int | None = None  # epochs to run in this call, then stop resumably
    workers: int = 2
    val: bool = False  # per-epoch validation costs minutes on CPU; the final epoch always validates
    cache: str | bool = "ram"
    seed: int = 0
    patience: int = 100
    close_mosaic: int = 3
    lr0: float | None = None
    hours: float | None = None  # train for this long: ultralytics re-fits the epoch count (and schedule) to it
    init_from_teacher: Path | None = None  # COCO teacher ONNX: start from its dequantised weights (teacher_init)
    extra: dict | None = None  # any other ultralytics train argument (e.g. warmup_epochs)


#: checkpoint key of the size a shipped model runs at (`export` writes it; may differ from the training size)
OPERATING_IMGSZ_KEY = "frontage_imgsz"

def trained_imgsz(weights: Path | None, fallback: int = 416) -> int:
    """The model's own input size: the operating size `export` stamped into a shipped ``.pt``
    (``frontage_imgsz``) or an ``.onnx`` (``imgsz`` metadata), else the size in its train args, else ``fallback``.

    Fine-tuning, evaluating or exporting a model at another size than its own silently changes what it sees
    (frontage-n 3.1 runs at 640 after training at 480; 3.0 at 480; earlier versions at 320).
    """
    if weights is None or not Path(weights).exists():
        return fallback
    from detector.inference import metadata_imgsz

    if Path(weights).suffix.lower() == ".onnx":
        import onnxruntime as ort

        meta = ort.InferenceSession(str(weights), providers=["CPUExecutionProvider"]).get_modelmeta()
        return metadata_imgsz(meta.custom_metadata_map) or fallback
    apply_offline_env()
    from ultralytics import YOLO

    return yolo_imgsz(YOLO(str(weights), task="detect"), fallback)


def yolo_imgsz(model: object, fallback: int = 416) -> int:
    """The own input size of an already loaded ultralytics ``YOLO``: its stamped operating size, else its
    checkpoint's train args."""
    ckpt = getattr(model, "ckpt", None) or {}
    train_args = ckpt.get("train_args") or {}
    size = (ckpt.get(OPERATING_IMGSZ_KEY) or train_args.get("imgsz")
            or (getattr(model, "overrides", None) or {}).get("imgsz"))
    if isinstance(size, (list, tuple)):
        size = max(size)
    return int(size) if isinstance(size, int) else fallback


def pick_device(device: str | None) -> str:
    if device:
        return device
    import torch

    return "0" if torch.cuda.is_available() else "cpu"


def run_dir(opts: TrainOptions) -> Path:
    return Path(opts.project).resolve() / opts.name


def last_checkpoint(opts: TrainOptions) -> Path:
    return run_dir(opts) / "weights" / "last.pt"


def train(opts: TrainOptions) -> Path:
    """Train (or resume) and return the run directory (``weights/last.pt``, ``weights/best.pt``)."""
    apply_offline_env()
    install_fonts()  # ultralytics draws labels with Arial: give it the bundled font, never a download
    from ultralytics import YOLO

    device = pick_device(opts.device)
    cpu_threads = max(1, min(os.cpu_count() or 1, 4)) if device == "cpu" else 0
    if opts.resume:
        ckpt = last_checkpoint(opts)
        if not ckpt.exists():
            raise FileNotFoundError(f"nothing to resume: {ckpt} does not exist")
        model = YOLO(str(ckpt))
        overrides = {"resume": str(ckpt), "device": device, "workers": opts.workers, "cache": opts.cache,
                     "val": opts.val, "plots": False}
        if opts.data:
            overrides["data"] = str(opts.data)
        if opts.hours:
            overrides["time"] = opts.hours
    else:
        source = str(opts.from_weights) if opts.from_weights else opts.model_yaml
        if opts.from_weights and not Path(opts.from_weights).exists():
            raise FileNotFoundError(f"weights not found: {opts.from_weights}")
        if opts.init_from_teacher and not opts.from_weights:
            from detector.training.teacher_init import teacher_checkpoint

            source = str(teacher_checkpoint(opts.init_from_teacher, run_dir(opts) / "teacher_init.pt"))
        model = YOLO(source, task="detect")
        overrides = {
            "data": str(opts.data), "epochs": opts.epochs, "imgsz": opts.imgsz, "batch": opts.batch,
            "device": device, "project": str(Path(opts.project).resolve()), "name": opts.name, "exist_ok": True,
            "plots": False, "amp": device != "cpu", "pretrained": source.endswith(".pt"), "workers": opts.workers,
            "val": opts.val, "cache": opts.cache, "seed": opts.seed, "deterministic": False,
            "patience": opts.patience, "close_mosaic": opts.close_mosaic, "verbose": True,
        }
        if opts.lr0 is not None:
            overrides["lr0"] = opts.lr0
        if opts.hours:
            overrides["time"] = opts.hours
        overrides.update(opts.extra or {})
    if cpu_threads:
        import torch

        # ultralytics' select_device resets torch to cpu_count - 1 threads: one thread on a 2-core box, half
        # the machine idle (measured: 100 % CPU, 2.8 s per batch of 16 at 416 px). Set ours once it is done.
        def use_all_cores(trainer) -> None:
            torch.set_num_threads(cpu_threads)

        model.add_callback("on_pretrain_routine_start", use_all_cores)
        model.add_callback("on_train_epoch_start", use_all_cores)
    if opts.chunk:
        state = {"start": None}

        def stop_after_chunk(trainer) -> None:
            if state["start"] is None:
                state["start"] = trainer.start_epoch
            done = trainer.epoch + 1 - state["start"]
            if done >= opts.chunk and trainer.epoch + 1 < trainer.epochs:
                raise ChunkDone(f"chunk of {opts.chunk} epochs done at epoch {trainer.epoch + 1}/{trainer.epochs}")

        model.add_callback("on_fit_epoch_end", stop_after_chunk)
    try:
        model.train(**overrides)
    except ChunkDone as done:
        print(f"{done}; continue with --resume")
    return run_dir(opts)
