"""Training speed: our in-memory epoch versus the seed notebook's DataLoader epoch.

    python benchmarks/train_speed.py [--ref-epochs 1] [--epochs 3]

Both run in this process on the same 60k-image dataset (Fashion-MNIST via the idx
source when installed, else generated). The reference is the seed notebook's loop as
it wrote it: its CNN class, a torchvision-style Dataset with per-sample ToTensor + Normalize
through a DataLoader (batch 256 train, 1024 val, 0 workers), AdamW + StepLR + clipping, then
its evalModel re-scoring the whole train and val sets. Ours: the train stage's own functions
(train_one_epoch and evaluate over the val split). Then variants of ours to show what each
setting gives; --profile prints where one epoch of ours spends its time.
"""
import argparse
import dataclasses
import os
import time

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from common import dataset_60k, median_time
from featuremaps.data.store import pixel_mean_std
from featuremaps.model.device import device_name, select_device, synchronize
from featuremaps.model.network import build_model, model_config
from featuremaps.params import DEVICES, Params
from featuremaps.model.step import TrainStep, uses_cuda_graph
from featuremaps.model.training import evaluate, optimizer_and_schedule, train_one_epoch


class SeedStyleDataset(Dataset):
    """Per-sample PIL decode, ToTensor, Normalize: what torchvision.datasets.MNIST does."""

    def __init__(self, images, labels, mean, std):
        self.images, self.labels = images, labels
        self.transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((mean,), (std,))])

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.images[i], mode="L")), int(self.labels[i])


class SeedCNN(nn.Module):
    """The notebook's network as it wrote it (ReLU before pooling, a fixed 16 * 7 * 7 view)."""

    def __init__(self, dropout=0.1, dropout2d=0.1):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 3, padding=1)
        self.fc1 = nn.Linear(16 * 7 * 7, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)
        self.Dropout = nn.Dropout(p=dropout)
        self.Dropout2d = nn.Dropout2d(p=dropout2d)

    def forward(self, x):
        x = self.Dropout2d(self.pool(F.relu(self.conv1(x))))
        x = self.Dropout2d(self.pool(F.relu(self.conv2(x))))
        x = x.view(-1, 16 * 7 * 7)
        x = self.Dropout(F.relu(self.fc1(x)))
        x = self.Dropout(F.relu(self.fc2(x)))
        return self.fc3(x)


def seed_eval(model, loaders, device):
    """The notebook's evalModel: loss and accuracy of every split, a host sync per batch."""
    model.eval()
    with torch.no_grad():
        for loader in loaders.values():
            loss = correct = 0
            for inputs, targets in loader:
                outputs = model(inputs.to(device))
                loss += F.cross_entropy(outputs, targets.long().to(device)).item() * len(targets)
                correct += (torch.max(outputs.data, 1)[1] == targets.long().to(device)).sum().item()


def reference_epoch(model, optimizer, scheduler, loaders, device):
    """The notebook's train(): one epoch over the DataLoader, then re-scoring train and val."""
    model.to(device).train()
    for inputs, targets in loaders["train"]:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(inputs.to(device)), targets.long().to(device))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1., norm_type=2)
        optimizer.step()
    seed_eval(model, {"train": loaders["train"], "val": loaders["val"]}, device)
    scheduler.step()


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


def matmul_flops_per_second(device, n=1024, repeats=5) -> float:
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b

    def product():
        a @ b
        synchronize(device)
    return 2 * n ** 3 / median_time(product, repeats)


PHASES = ("batch", "forward", "backward", "clipping", "optimizer", "bookkeeping")


def profile_epoch(config, mean, std, x, y, train_params, device):
    """One epoch of ours under torch.profiler: the time of each phase of a step (the record_function
    labels of train_one_epoch) and the 15 operators with the most self time."""
    from torch.profiler import ProfilerActivity, profile
    torch.manual_seed(0)
    m = build_model(config, mean, std).to(device)
    if train_params.channels_last:
        m = m.to(memory_format=torch.channels_last)
    o, _ = optimizer_and_schedule(m, train_params, device)
    g = torch.Generator().manual_seed(0)
    train_one_epoch(m, x[:4096], y[:4096], o, train_params, g, device)  # warm-up
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    synchronize(device)
    start = time.perf_counter()
    with profile(activities=activities) as prof:
        train_one_epoch(m, x, y, o, train_params, g, device)
        synchronize(device)
    wall = time.perf_counter() - start
    events = {e.key: e for e in prof.key_averages()}
    print(f"profile of one epoch ({wall:.2f} s under the profiler, {len(x) // train_params.batch_size + 1} steps):")
    total = 0.0
    for phase in PHASES:
        t = events[phase].cpu_time_total / 1e6 if phase in events else 0.0
        total += t
        print(f"  {phase:<12} {t:6.2f} s  {t / wall:6.1%}")
    print(f"  {'outside':<12} {wall - total:6.2f} s  {(wall - total) / wall:6.1%}  (the loop's own Python, the profiler)")
    sort = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    print(prof.key_averages().table(sort_by=sort, row_limit=15, max_name_column_width=40))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ref-epochs", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--compile", action="store_true", help="also try torch.compile (slow to compile)")
    ap.add_argument("--profile", action="store_true", help="print where one epoch of ours spends its time")
    ap.add_argument("--device", default="auto", choices=DEVICES, help="where both loops run (default: auto)")
    args = ap.parse_args()
    device = select_device(args.device)
    torch.set_num_threads(os.cpu_count())
    tr_x, tr_y, va_x, va_y, what = dataset_60k()
    mean, std = pixel_mean_std(tr_x)
    p = Params()
    config = model_config(p.model, {"image_shape": tr_x.shape[1:3], "classes": list(range(10)), "channels": 1})
    print(f"data: {what}; {len(tr_x)} train, {len(va_x)} val; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; device {device_name(device)}")

    # Reference: the notebook's loop, as it wrote it (batch 256 for train, 1024 for val).
    torch.manual_seed(0)
    model = SeedCNN().to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=p.train.lr, weight_decay=p.train.weight_decay)
    sched = torch.optim.lr_scheduler.StepLR(opt, p.train.lr_step_size, p.train.lr_gamma)
    loaders = {"train": DataLoader(SeedStyleDataset(tr_x, tr_y, mean, std), batch_size=256, shuffle=True),
               "val": DataLoader(SeedStyleDataset(va_x, va_y, mean, std), batch_size=1024, shuffle=True)}
    ref = median_time(lambda: reference_epoch(model, opt, sched, loaders, device), args.ref_epochs)
    print(f"reference: the notebook's epoch (its CNN, DataLoader with per-sample transforms, then train and val "
          f"re-scored): {ref:.2f} s")

    x, y, vx, vy = tr_x, tr_y, va_x, va_y  # uint8: the model standardises its input, as in the train stage

    def ours(train_params, compile_model=False, graph=True):
        torch.manual_seed(0)
        m = build_model(config, mean, std).to(device)
        if train_params.channels_last:
            m = m.to(memory_format=torch.channels_last)
        run = torch.compile(m) if compile_model else m
        o, _ = optimizer_and_schedule(m, train_params, device)
        g = torch.Generator().manual_seed(0)
        step = TrainStep(run, o, train_params, device)
        step.graphed = step.graphed and graph
        losses = []

        def epoch():
            losses.append(train_one_epoch(run, x, y, o, train_params, g, device, step=step).loss)
            evaluate(run, vx, vy, train_params.eval_batch_size, device, train_params.channels_last,
                     train_params.precision)
            synchronize(device)
        if compile_model:
            start = time.perf_counter()
            epoch()
            print(f"  (torch.compile warm-up epoch: {time.perf_counter() - start:.1f} s)")
        seconds = median_time(epoch, args.epochs)
        print(f"  train loss by epoch: {', '.join(f'{v:.4f}' for v in losses)}")
        return seconds

    if args.profile:
        profile_epoch(config, mean, std, x, y, p.train, device)
    base = ours(p.train)
    flops = training_flops_per_image(build_model(config), tr_x.shape[1:])
    peak = matmul_flops_per_second(device)
    rate = len(x) / base
    print(f"ours (defaults: channels_last={p.train.channels_last}, precision {p.train.precision}, eval batch "
          f"{p.train.eval_batch_size}): {base:.2f} s/epoch incl. val, median of {args.epochs}")
    print(f"speed-up over the reference: {ref / base:.1f}x")
    print(f"training throughput: {rate:,.0f} images/s = {rate * flops / 1e9:.2f} GFLOP/s "
          f"({flops / 1e6:.2f} MFLOP per image) = {rate * flops / peak:.1%} of this machine's "
          f"fp32 matmul rate ({peak / 1e9:.0f} GFLOP/s on {device.type})")
    variants = [("channels_last off", dataclasses.replace(p.train, channels_last=False), False),
                ("precision bf16", dataclasses.replace(p.train, precision="bf16"), False),
                ("eval batch 4096", dataclasses.replace(p.train, eval_batch_size=4096), False),
                ("train batch 512 (changes the optimisation)", dataclasses.replace(p.train, batch_size=512), False)]
    if args.compile:
        variants.append(("torch.compile", p.train, True))
    if uses_cuda_graph(device):
        variants.append(("no CUDA graph (every step eager)", p.train, False))
    for name, tp, comp in variants:
        try:
            t = ours(tp, comp) if "CUDA graph" not in name else ours(tp, graph=False)
            print(f"variant {name}: {t:.2f} s/epoch ({base / t:.2f}x of the default)")
        except Exception as exc:  # a variant that fails on this machine is reported, not fatal
            print(f"variant {name}: failed ({exc.__class__.__name__}: {str(exc).splitlines()[0][:120]})")


if __name__ == "__main__":
    main()
