"""Training speed: our in-memory epoch versus the seed notebook's DataLoader epoch.

    python benchmarks/train_speed.py [--ref-epochs 1] [--epochs 3]

Both run in this process on the same 60k-image dataset (Fashion-MNIST via the idx
source when installed, else generated). The reference is written the seed's way: a
torchvision-style Dataset with per-sample ToTensor + Normalize through a DataLoader
(batch 256, 0 workers), then re-scoring the whole train and val sets after the epoch.
Ours: one normalised tensor, batches sliced from a permutation, val evaluated. Then
variants of ours (channels-last, eval batch, torch.compile) to show what each gives.
"""
import argparse
import dataclasses
import os
import time

import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from common import dataset_60k, median_time
from featuremaps.data.store import pixel_mean_std
from featuremaps.model.network import build_model, model_config, normalised_images
from featuremaps.params import Params
from featuremaps.model.training import evaluate, train_one_epoch


class SeedStyleDataset(Dataset):
    """Per-sample PIL decode, ToTensor, Normalize: what torchvision.datasets.MNIST does."""

    def __init__(self, images, labels, mean, std):
        self.images, self.labels = images, labels
        self.transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((mean,), (std,))])

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.images[i], mode="L")), int(self.labels[i])


def reference_epoch(model, optimizer, loaders, grad_clip):
    model.train()
    for xb, yb in loaders["train"]:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
    model.eval()
    with torch.no_grad():
        for name in ("train_eval", "val"):
            for xb, yb in loaders[name]:
                F.cross_entropy(model(xb), yb)
                model(xb).argmax(1)


def training_flops_per_image(model, shape) -> float:
    """Multiply-adds of the forward pass x 2 flops x 3 (forward + backward)."""
    macs = 0
    h, w = shape
    for name, m in model.named_modules():
        if isinstance(m, torch.nn.Conv2d):
            macs += m.in_channels * m.out_channels * 9 * h * w
            h, w = h // 2, w // 2
        elif isinstance(m, torch.nn.Linear):
            macs += m.in_features * m.out_features
    return 2 * 3 * macs


def matmul_flops_per_second(n=1024, repeats=5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    return 2 * n ** 3 / median_time(lambda: a @ b, repeats)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ref-epochs", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--compile", action="store_true", help="also try torch.compile (slow to compile)")
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count())
    tr_x, tr_y, va_x, va_y, what = dataset_60k()
    mean, std = pixel_mean_std(tr_x)
    p = Params()
    config = model_config(p.model, tr_x.shape[1:], 10)
    print(f"data: {what}; {len(tr_x)} train, {len(va_x)} val; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")

    # Reference: the seed's way.
    torch.manual_seed(0)
    model = build_model(config)
    opt = torch.optim.AdamW(model.parameters(), lr=p.train.lr)
    train_ds = SeedStyleDataset(tr_x, tr_y, mean, std)
    loaders = {"train": DataLoader(train_ds, batch_size=256, shuffle=True, num_workers=0),
               "train_eval": DataLoader(train_ds, batch_size=1024, num_workers=0),
               "val": DataLoader(SeedStyleDataset(va_x, va_y, mean, std), batch_size=1024, num_workers=0)}
    ref = median_time(lambda: reference_epoch(model, opt, loaders, 1.0), args.ref_epochs)
    print(f"reference epoch (DataLoader, per-sample transforms, re-score train+val): {ref:.2f} s")

    x, y = normalised_images(tr_x, mean, std), torch.from_numpy(tr_y).long()
    vx, vy = normalised_images(va_x, mean, std), torch.from_numpy(va_y).long()
    cpu = torch.device("cpu")

    def ours(train_params, compile_model=False):
        torch.manual_seed(0)
        m = build_model(config)
        if train_params.channels_last:
            m = m.to(memory_format=torch.channels_last)
        run = torch.compile(m) if compile_model else m
        o = torch.optim.AdamW(m.parameters(), lr=train_params.lr)
        g = torch.Generator().manual_seed(0)

        def epoch():
            train_one_epoch(run, x, y, o, train_params, g, cpu)
            evaluate(run, vx, vy, train_params.eval_batch_size, cpu, train_params.channels_last)
        if compile_model:
            start = time.perf_counter()
            epoch()
            print(f"  (torch.compile warm-up epoch: {time.perf_counter() - start:.1f} s)")
        return median_time(epoch, args.epochs)

    base = ours(p.train)
    flops = training_flops_per_image(build_model(config), tr_x.shape[1:])
    peak = matmul_flops_per_second()
    rate = len(x) / base
    print(f"ours (defaults: channels_last={p.train.channels_last}, eval batch {p.train.eval_batch_size}): "
          f"{base:.2f} s/epoch incl. val, median of {args.epochs}")
    print(f"speed-up over the reference: {ref / base:.1f}x")
    print(f"training throughput: {rate:,.0f} images/s = {rate * flops / 1e9:.2f} GFLOP/s "
          f"({flops / 1e6:.2f} MFLOP per image) = {rate * flops / peak:.1%} of this machine's "
          f"fp32 matmul rate ({peak / 1e9:.0f} GFLOP/s)")
    variants = [("channels_last off", dataclasses.replace(p.train, channels_last=False), False),
                ("eval batch 4096", dataclasses.replace(p.train, eval_batch_size=4096), False),
                ("train batch 512 (changes the optimisation)", dataclasses.replace(p.train, batch_size=512), False)]
    if args.compile:
        variants.append(("torch.compile", p.train, True))
    for name, tp, comp in variants:
        try:
            t = ours(tp, comp)
            print(f"variant {name}: {t:.2f} s/epoch ({base / t:.2f}x of the default)")
        except Exception as exc:  # a variant that fails on this machine is reported, not fatal
            print(f"variant {name}: failed ({exc.__class__.__name__}: {str(exc).splitlines()[0][:120]})")


if __name__ == "__main__":
    main()
