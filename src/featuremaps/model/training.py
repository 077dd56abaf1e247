"""Training on splits read a batch at a time: each epoch a seeded permutation of the train split's
rows, cut into batches that are read (from disk, for a stored split) and normalised while the model
works on the batch before (featuremaps.model.batches); the labels live on the device for the run.
Memory is a few batches, whatever the number of images; the order of images and every input are
those of permuting the whole split in memory. No host sync inside an epoch.

    from featuremaps.model.training import fit
    result = fit(model, train_images, train_labels, val_images, val_labels, params.train, seed, device)

Images are uint8 [N, H, W] or [N, H, W, C] (a StoredImages or an array), labels integer arrays.

AdamW + StepLR + gradient clipping as the seed notebook; every epoch evaluates the val
split; the best epoch by val loss is kept.
"""
from __future__ import annotations

import copy
import logging
import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch.profiler import record_function
from tqdm import tqdm

from featuremaps.model.batches import input_batches
from featuremaps.model.step import TrainStep, autocast, uses_cuda_graph
from featuremaps.params import TrainParams

log = logging.getLogger("featuremaps.train")


@dataclass
class EpochStats:
    loss: float
    accuracy: float


@dataclass
class FitResult:
    history: list = field(default_factory=list)   # dicts: epoch, losses, accuracies, lr
    best_epoch: int = 0
    best_state: dict | None = None
    val_predictions: np.ndarray | None = None
    train_seconds: float = 0.0
    train_images: int = 0


PROGRESS_SECONDS = 0.5  # the progress bar reads the loss (a device sync) at most this often


def labels_on(labels, device) -> torch.Tensor:
    """Integer labels (array or tensor) as int64 on `device`."""
    return torch.as_tensor(np.asarray(labels) if not torch.is_tensor(labels) else labels).long().to(device)


def train_one_epoch(model, images, labels, optimizer, params: TrainParams, generator, device, progress=None,
                    step: TrainStep | None = None) -> EpochStats:
    """One pass over (images, labels), on `device`, in a random order drawn from `generator` (on the
    CPU, so every device sees the same order); loss/accuracy are running means over batches,
    accumulated on the device: nothing waits for the device inside the epoch but the progress bar,
    twice a second. `step`: a TrainStep kept across epochs (fit's;
    one is made here otherwise)."""
    model.train()
    step = step or TrainStep(model, optimizer, params, device)
    labels = labels_on(labels, device)
    order = torch.randperm(len(images), generator=generator).numpy()
    total_loss = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    shown = time.perf_counter()
    for xb, rows in input_batches(model, images, order, params.batch_size, device, params.channels_last):
        with record_function("batch"):
            yb = labels[torch.from_numpy(rows).to(device)]
        loss, logits = step(xb, yb)
        with record_function("bookkeeping"):
            total_loss += loss.detach() * len(yb)
            correct += (logits.argmax(1) == yb).sum()
            if progress is not None:
                progress.update(len(yb))
                if time.perf_counter() - shown > PROGRESS_SECONDS:
                    progress.set_postfix(loss=f"{loss.item():.4f}")
                    shown = time.perf_counter()
    return EpochStats(total_loss.item() / len(images), correct.item() / len(images))


@torch.inference_mode()
def evaluate(model, images, labels, batch_size: int, device, channels_last: bool = True, precision: str = "fp32"):
    """(EpochStats, predictions as numpy) of `model` in eval mode over (images, labels), in order;
    one transfer to the host at the end."""
    model.eval()
    labels = labels_on(labels, device)
    total_loss = torch.zeros((), dtype=torch.float64, device=device)
    preds = torch.empty(len(images), dtype=torch.int64, device=device)
    for x, rows in input_batches(model, images, None, batch_size, device, channels_last):
        with autocast(device, precision):
            logits = model(x).float()
        total_loss += F.cross_entropy(logits, labels[rows], reduction="sum").double()
        preds[rows] = logits.argmax(1)
    correct = (preds == labels).sum().item()
    return EpochStats(total_loss.item() / len(images), correct / len(images)), preds.cpu().numpy()


def optimizer_and_schedule(model, params: TrainParams, device):
    """AdamW (fused into one kernel where the device has it) and the StepLR schedule of the notebook.
    Where the step is a CUDA graph, the learning rate is a tensor on the device that the schedule
    updates in place, and the optimizer is capturable."""
    graphed = uses_cuda_graph(device)
    lr = torch.tensor(params.lr, device=device) if graphed else params.lr
    if graphed:  # its warm-up and last-batch steps run uncaptured, which is intended
        warnings.filterwarnings("ignore", message="This instance was constructed with capturable=True")
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=params.weight_decay,
                                  fused=device.type in ("cpu", "cuda"), capturable=graphed)
    return optimizer, torch.optim.lr_scheduler.StepLR(optimizer, params.lr_step_size, params.lr_gamma)


def _evaluated_as_is(model, train_x, train_y, val_x, val_y, params: TrainParams, device, result: FitResult) -> None:
    """`result` for train.epochs 0: one history row, epoch 0, of the model as it is."""
    train_stats, _ = evaluate(model, train_x, train_y, params.eval_batch_size, device, params.channels_last,
                              params.precision)
    val_stats, val_pred = evaluate(model, val_x, val_y, params.eval_batch_size, device, params.channels_last,
                                   params.precision)
    result.history.append({"epoch": 0, "train_loss": train_stats.loss, "val_loss": val_stats.loss,
                           "train_accuracy": train_stats.accuracy, "val_accuracy": val_stats.accuracy,
                           "lr": params.lr})
    log.info("epoch 0 (model.checkpoint as it is): train loss %.4f acc %.4f | val loss %.4f acc %.4f",
             train_stats.loss, train_stats.accuracy, val_stats.loss, val_stats.accuracy)
    result.best_epoch = 0
    result.best_state = copy.deepcopy({k: v.cpu() for k, v in model.state_dict().items()})
    result.val_predictions = val_pred


def fit(model, train_x, train_y, val_x, val_y, params: TrainParams, seed: int, device, after_epoch=None) -> FitResult:
    """Train for params.epochs; keep the state with the lowest val loss. `after_epoch(epoch, model,
    record)`, when given, is called once before training (epoch 0, record None) and after each
    epoch with its history record (snapshots, live logging)."""
    generator = torch.Generator().manual_seed(seed)
    model.to(device)
    if params.channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer, scheduler = optimizer_and_schedule(model, params, device)
    step = TrainStep(model, optimizer, params, device)
    train_y, val_y = labels_on(train_y, device), labels_on(val_y, device)
    result = FitResult()
    best_loss = float("inf")
    interactive = sys.stderr.isatty()
    start_time = time.perf_counter()
    if after_epoch is not None:
        after_epoch(0, model, None)
    if params.epochs == 0:  # weights trained elsewhere, evaluated as they are
        _evaluated_as_is(model, train_x, train_y, val_x, val_y, params, device, result)
    for epoch in range(1, params.epochs + 1):
        lr = float(optimizer.param_groups[0]["lr"])
        with tqdm(total=len(train_x), desc=f"epoch {epoch}/{params.epochs}", unit="img",
                  disable=not interactive, leave=True) as bar:
            train_stats = train_one_epoch(model, train_x, train_y, optimizer, params, generator, device, bar, step)
            if params.rescore_train:
                train_stats, _ = evaluate(model, train_x, train_y, params.eval_batch_size, device,
                                          params.channels_last, params.precision)
            val_stats, val_pred = evaluate(model, val_x, val_y, params.eval_batch_size, device,
                                           params.channels_last, params.precision)
            bar.set_postfix(loss=f"{train_stats.loss:.4f}", acc=f"{train_stats.accuracy:.4f}",
                            val_loss=f"{val_stats.loss:.4f}", val_acc=f"{val_stats.accuracy:.4f}")
        scheduler.step()
        result.history.append({"epoch": epoch, "train_loss": train_stats.loss, "val_loss": val_stats.loss,
                               "train_accuracy": train_stats.accuracy, "val_accuracy": val_stats.accuracy,
                               "lr": lr})
        if not interactive:
            log.info("epoch %d/%d: train loss %.4f acc %.4f | val loss %.4f acc %.4f", epoch, params.epochs,
                     train_stats.loss, train_stats.accuracy, val_stats.loss, val_stats.accuracy)
        if val_stats.loss < best_loss:
            best_loss = val_stats.loss
            result.best_epoch = epoch
            result.best_state = copy.deepcopy({k: v.cpu() for k, v in model.state_dict().items()})
            result.val_predictions = val_pred
        if after_epoch is not None:
            after_epoch(epoch, model, result.history[-1])
    result.train_seconds = time.perf_counter() - start_time
    result.train_images = params.epochs * len(train_x)
    return result

