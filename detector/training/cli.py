"""Command line: ``frontage dataset build``, ``frontage train [evaluate|export]``, ``frontage relearn export``.

Every command reports bad input as one ``error: ...`` line (exit code 2), never a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

import typer

dataset_app = typer.Typer(help="Build the YOLO training dataset.", no_args_is_help=True, pretty_exceptions_enable=False)
train_app = typer.Typer(help="Train, evaluate and export frontage-n (ultralytics, offline).",
                        pretty_exceptions_enable=False)
relearn_app = typer.Typer(help="Re-learning: pull operator feedback from the case service.", no_args_is_help=True,
                          pretty_exceptions_enable=False)


def _clean_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (FileNotFoundError, ValueError, KeyError, OSError, RuntimeError) as exc:
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            typer.echo(f"error: {msg}", err=True)
            raise typer.Exit(2) from None

    return wrapper


@dataset_app.command("build")
@_clean_errors
def dataset_build(
    out: Annotated[Path, typer.Option(help="Output folder (replaced)")] = Path("datasets/frontage"),
    shared: Annotated[Path | None, typer.Option(help="../shared with real photos, clips and the COCO teacher")] = None,
    synth: Annotated[int, typer.Option(help="Generated frames")] = 800,
    seed: Annotated[int, typer.Option(help="Seed: same seed, same dataset")] = 0,
    bags: Annotated[int, typer.Option(help="Real trash-bag photos for training (their valid split is always used)")] = 450,
    bags_val: Annotated[int | None, typer.Option(help="Photos of the bags' valid split to use (default: all)")] = None,
    teacher_every: Annotated[int, typer.Option(help="Pseudo-label every n-th frame of each real clip (0: none)")] = 8,
    composites: Annotated[int, typer.Option(help="Copy-paste composites")] = 300,
    image_width: Annotated[int, typer.Option(help="Store images at most this wide")] = 640,
    synth_size: Annotated[str, typer.Option(help="Generated frame size WxH (the sample clips are 1280x720)")] = "1280x720",
    classes: Annotated[Path, typer.Option(help="Class list to label in (a later model with more classes: its own list)")] = Path("models/frontage-n.classes.yaml"),
    garbage: Annotated[int | None, typer.Option(help="Real street-garbage photos for training (default: all; 0: none)")] = None,
    garbage_val: Annotated[int | None, typer.Option(help="Of its valid + test photos (default: all)")] = None,
    mine_every: Annotated[int, typer.Option(help="Mine the current model's false positives on every n-th clip frame (0: none)")] = 2,
    mine_model: Annotated[Path, typer.Option(help="The model whose false positives are mined")] = Path("models/frontage-n.onnx"),
    photo_teacher: Annotated[bool, typer.Option(help="Teacher labels (people, cars...) on the real photos too")] = True,
) -> None:
    """Build one YOLO detection dataset (see DATASET_CARD.md in the output)."""
    from detector.training.dataset import BuildOptions, build_dataset

    if not classes.exists():
        raise FileNotFoundError(f"class list not found: {classes}")
    from detector.classmap import ClassMap

    ClassMap.load(classes)  # the same checks the edge applies: a bad category fails here, not after the build

    for name, value in (("synth", synth), ("bags", bags), ("composites", composites)):
        if value < 0:
            raise ValueError(f"--{name} must be >= 0, got {value}")
    if teacher_every < 0:
        raise ValueError(f"--teacher-every must be >= 0 (0: none), got {teacher_every}")
    if mine_every < 0:
        raise ValueError(f"--mine-every must be >= 0 (0: none), got {mine_every}")
    for name, limit in (("garbage", garbage), ("garbage-val", garbage_val), ("bags-val", bags_val)):
        if limit is not None and limit < 0:
            raise ValueError(f"--{name} must be >= 0, got {limit}")
    try:
        size = tuple(int(v) for v in synth_size.lower().split("x"))
        assert len(size) == 2 and min(size) >= 64
    except (ValueError, AssertionError):
        raise ValueError(f"--synth-size wants WIDTHxHEIGHT (>= 64), got {synth_size!r}") from None
    report = build_dataset(BuildOptions(out=out, shared=shared, synth=synth, seed=seed, bags=bags, bags_val=bags_val,
                                        teacher_every=teacher_every, composites=composites, image_width=image_width,
                                        synth_size=size, classes_file=classes.resolve(), garbage=garbage,  # type: ignore[arg-type]
                                        garbage_val=garbage_val, mine_every=mine_every, mine_model=mine_model,
                                        photo_teacher=photo_teacher),
                           progress=lambda m: typer.echo(m, err=True))
    typer.echo(json.dumps(report.images))
    typer.echo(f"wrote {out / 'data.yaml'} and {out / 'DATASET_CARD.md'}")


@train_app.callback(invoke_without_command=True)
@_clean_errors
def train_command(
    ctx: typer.Context,
    data: Annotated[Path | None, typer.Option(help="Dataset data.yaml")] = None,
    from_weights: Annotated[Path | None, typer.Option("--from", help="Fine-tune these weights (e.g. models/frontage-n.pt)")] = None,
    model: Annotated[str, typer.Option(help="Model yaml for training from scratch (ultralytics ships it)")] = "yolo11n.yaml",
    epochs: Annotated[int, typer.Option(help="Epochs of the whole schedule")] = 30,
    imgsz: Annotated[int | None, typer.Option(help="Input size (default: --from's own, else 416)")] = None,
    batch: Annotated[int, typer.Option(help="Batch size")] = 16,
    device: Annotated[str | None, typer.Option(help="cpu, 0, ... (default: GPU when there is one)")] = None,
    project: Annotated[Path, typer.Option(help="Runs folder")] = Path("runs/train"),
    name: Annotated[str, typer.Option(help="Run name (folder under --project)")] = "frontage-n",
    resume: Annotated[bool, typer.Option(help="Continue the run's last.pt")] = False,
    chunk: Annotated[int | None, typer.Option(help="Stop (resumably) after this many epochs")] = None,
    val: Annotated[bool, typer.Option(help="Validate every epoch (slow on CPU; the last epoch always validates)")] = False,
    workers: Annotated[int, typer.Option(help="Data-loader workers")] = 2,
    lr0: Annotated[float | None, typer.Option(help="Initial learning rate (default: ultralytics')")] = None,
    init_from_teacher: Annotated[Path | None, typer.Option(help="Start from the COCO teacher ONNX's dequantised weights (yolov8n)")] = None,
    set_args: Annotated[list[str] | None, typer.Option("--set", help="Extra ultralytics train argument key=value (repeatable)")] = None,
    hours: Annotated[float | None, typer.Option(help="Train this long; the epoch count and schedule adapt to it")] = None,
) -> None:
    """Train frontage-n: from scratch (--model), fine-tune (--from), continue (--resume), in chunks (--chunk)."""
    if ctx.invoked_subcommand is not None:
        return
    import yaml

    from detector.training.train import TrainOptions, train, trained_imgsz

    extra = {}
    for item in set_args or []:
        if "=" not in item:
            raise ValueError(f"--set wants key=value, got {item!r}")
        key, value = item.split("=", 1)
        extra[key.strip()] = yaml.safe_load(value)

    if data is None and not resume:
        raise ValueError("--data is required (a data.yaml from `frontage dataset build`)")
    if data is not None and not data.exists():
        raise FileNotFoundError(f"dataset not found: {data}")
    imgsz = imgsz or trained_imgsz(from_weights)
    run = train(TrainOptions(data=data, from_weights=from_weights, model_yaml=model, epochs=epochs, imgsz=imgsz,
                             batch=batch, device=device, project=project, name=name, resume=resume, chunk=chunk,
                             val=val, workers=workers, lr0=lr0, hours=hours,
                             init_from_teacher=init_from_teacher, extra=extra))
    typer.echo(f"run: {run}  (weights/last.pt, weights/best.pt)")


@train_app.command("evaluate")
@_clean_errors
def evaluate_command(
    weights: Annotated[Path, typer.Option(help=".pt or .onnx")] = Path("models/frontage-n.pt"),
    data: Annotated[Path, typer.Option(help="Dataset data.yaml (its val_sources are evaluated one by one)")] = Path("datasets/frontage/data.yaml"),
    imgsz: Annotated[int | None, typer.Option(help="Input size (default: the weights' own)")] = None,
    device: Annotated[str, typer.Option()] = "cpu",
    source: Annotated[list[str] | None, typer.Option(help="Only these sources (repeatable)")] = None,
    out: Annotated[Path | None, typer.Option(help="Write the metrics JSON here")] = None,
) -> None:
    """mAP50 per class and per source; recall against the COCO teacher on real frames."""
    from detector.training.evaluate import evaluate, format_metrics, save_metrics

    for p in (weights, data):
        if not p.exists():
            raise FileNotFoundError(f"not found: {p}")
    from detector.training.train import trained_imgsz

    metrics = evaluate(weights, data, imgsz=imgsz or trained_imgsz(weights), device=device, sources=source)
    typer.echo(format_metrics(metrics))
    if out:
        save_metrics(metrics, out)
        typer.echo(f"wrote {out}")


@train_app.command("export")
@_clean_errors
def export_command(
    weights: Annotated[Path, typer.Option(help="Checkpoint to export (e.g. runs/train/frontage-n/weights/last.pt)")],
    imgsz: Annotated[int | None, typer.Option(help="Input size (default: the weights' own)")] = None,
    dest: Annotated[Path | None, typer.Option(help="Copy the ONNX (and stripped .pt) here, e.g. models/frontage-n.onnx")] = None,
    version: Annotated[str | None, typer.Option(help="Version (default: next in the registry)")] = None,
    bump: Annotated[str, typer.Option(help="minor (fine-tune) or major (new base)")] = "minor",
    metrics: Annotated[Path | None, typer.Option(help="Metrics JSON from `frontage train evaluate`")] = None,
    data: Annotated[str | None, typer.Option(help="Dataset description for the registry")] = None,
    recipe: Annotated[str | None, typer.Option(help="Training commands for the registry")] = None,
    parent: Annotated[str | None, typer.Option(help="Version this model was fine-tuned from")] = None,
    registry_file: Annotated[Path | None, typer.Option("--registry", help="Registry file")] = None,
    classes: Annotated[Path, typer.Option(help="Class list the weights must have (a later model with more classes: its own list)")] = Path("models/frontage-n.classes.yaml"),
) -> None:
    """ONNX (dynamic batch), checked with ONNX Runtime, sha256 + version + metrics into the registry."""
    from detector.training import registry
    from detector.training.export import export_and_register

    if not weights.exists():
        raise FileNotFoundError(f"weights not found: {weights}")
    if bump not in ("minor", "major"):
        raise ValueError(f"--bump must be minor or major, got {bump!r}")
    metric_data = json.loads(metrics.read_text()) if metrics else None
    from detector.training.train import trained_imgsz

    entry = export_and_register(weights, imgsz=imgsz or trained_imgsz(weights), dest=dest, version=version, metrics=metric_data, data=data,
                                recipe=recipe, parent=parent, registry_path=registry_file or registry.REGISTRY, bump=bump,
                                classes_file=classes.resolve())
    typer.echo(f"{entry['onnx']} version {entry['version']} sha256 {entry['onnx_sha256']}")


@train_app.command("grow-head")
@_clean_errors
def grow_head_command(
    base: Annotated[Path, typer.Option(help="Model whose classes the new list starts with")] = Path("models/frontage-n.pt"),
    classes: Annotated[Path, typer.Option(help="The new class list: the base model's classes first, then the new ones (your own file)")] = Path("models/frontage-n.classes.yaml"),
    teacher: Annotated[Path | None, typer.Option(help="COCO teacher ONNX: its rows for the new classes it knows")] = None,
    out: Annotated[Path, typer.Option(help="Checkpoint to write (train it with `frontage train --from`)")] = Path("runs/next/init.pt"),
) -> None:
    """A checkpoint of --base with a head for --classes: old rows kept, new rows from the teacher or silent."""
    from detector.training.classes import class_names
    from detector.training.teacher_init import grow_head

    for p in (base, classes, *([teacher] if teacher else [])):
        if not p.exists():
            raise FileNotFoundError(f"not found: {p}")
    report = grow_head(base, class_names(classes.resolve()), out, teacher)
    typer.echo(json.dumps(report, indent=1))


@relearn_app.command("export")
@_clean_errors
def relearn_export(
    service: Annotated[str, typer.Option(help="Case service base URL, e.g. http://127.0.0.1:8000")],
    token: Annotated[str, typer.Option(help="Staff bearer token (operator or admin)", envvar="FRONTAGE_TOKEN")],
    out: Annotated[Path, typer.Option(help="Output folder")] = Path("datasets/relearn"),
    base: Annotated[Path | None, typer.Option(help="Base dataset data.yaml: replay sample + its val lists")] = Path("datasets/frontage/data.yaml"),
    model: Annotated[Path | None, typer.Option(help="Current model (.pt/.onnx): labels for frames the service sends without boxes")] = None,
    replay: Annotated[int, typer.Option(help="Base training images mixed in against forgetting")] = 300,
    repeat: Annotated[int, typer.Option(help="Times each feedback frame appears in the train list")] = 3,
    limit: Annotated[int, typer.Option(help="Most cases pulled")] = 1000,
) -> None:
    """Rejected cases -> hard negatives, confirmed cases -> positives; writes OUT/data.yaml for `frontage train --from`."""
    from detector.training.relearn import (
        CaseServiceClient,
        ModelLabeller,
        pull_samples,
        write_relearn_dataset,
    )

    if base is not None and not base.exists():
        typer.echo(f"note: base dataset {base} not found: no replay sample, val = the feedback frames", err=True)
        base = None
    if model is not None and not model.exists():
        raise FileNotFoundError(f"model not found: {model}")
    labeller = ModelLabeller(model) if model else None
    try:
        samples, stats = pull_samples(CaseServiceClient(service, token), labeller, limit=limit,
                                      log=lambda m: typer.echo(m, err=True))
    except (ConnectionError, PermissionError) as exc:
        raise RuntimeError(str(exc)) from None
    if not samples:
        raise ValueError(f"no usable rejected or confirmed cases at {service} ({stats})")
    data = write_relearn_dataset(samples, out, base_data=base, replay=replay, repeat=repeat)
    typer.echo(f"{len(samples)} frames -> {data}; fine-tune with: frontage train --from models/frontage-n.pt --data {data} --epochs 3")


@relearn_app.command("round")
@_clean_errors
def relearn_round_command(
    model: Annotated[Path, typer.Option()] = Path("models/frontage-n.pt"),
    data: Annotated[Path, typer.Option()] = Path("datasets/frontage/data.yaml"),
    shared: Annotated[Path | None, typer.Option()] = None,
    out: Annotated[Path, typer.Option()] = Path("runs/relearn_round"),
    imgsz: Annotated[int | None, typer.Option(help="Input size (default: the model's own)")] = None,
    epochs: Annotated[int, typer.Option()] = 3,
) -> None:
    """Scripted round: false positives -> export -> fine-tune -> measure (see relearn_round.py)."""
    from detector.training.relearn_round import run_round

    for p in (model, data):
        if not p.exists():
            raise FileNotFoundError(f"not found: {p}")
    from detector.training.train import trained_imgsz

    result = run_round(model, data, out, shared, imgsz=imgsz or trained_imgsz(model), epochs=epochs, log=lambda m: typer.echo(m, err=True))
    raise typer.Exit(0 if result["passed"] else 1)
