"""Extraction memory and time: 60k+10k images versus 6k+1k, each in its own process.

    python benchmarks/extract_memory.py [--device auto]

Each child process imports torch (its resident memory then is the baseline), loads the
dataset as the extract stage does (uint8 NPZ), runs the extraction with the default
params and writes its outputs; it reports its peak resident memory (ru_maxrss) and the
extraction's seconds. Targets: peaks differ by <= 100 MB, the 70k peak is <= 300 MB
above the baseline, the 70k extraction takes <= 5 s.
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
import psutil, torch
baseline = psutil.Process().memory_info().rss
from featuremaps.analysis.store import write_extraction
from featuremaps.analysis.activations import extract_activations
from featuremaps.data.store import read_split
from featuremaps.model.device import device_name, select_device, synchronize
from featuremaps.model.network import build_model, model_config
from featuremaps.params import Params
folder = sys.argv[1]
p = Params()
device = select_device(sys.argv[2])
splits = {s: read_split(folder, s) for s in ("train", "val")}
torch.manual_seed(0)
model = build_model(model_config(p.model, splits["train"][0].shape[1:], 10)).to(device)
synchronize(device)
start = time.perf_counter()
ex = extract_activations(model, splits, 0.13, 0.3, p.extract, [str(i) for i in range(10)], device)
synchronize(device)
seconds = time.perf_counter() - start
write_extraction(ex, folder + "/out", {})
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"baseline": baseline, "peak": peak, "seconds": seconds, "images": len(ex.per_image["index"]),
                  "device": device_name(device)}))
"""


def run(n_train, n_val, tr, va, device):
    import numpy as np
    with tempfile.TemporaryDirectory() as tmp:
        np.savez(Path(tmp) / "train.npz", images=tr[0][:n_train], labels=tr[1][:n_train])
        np.savez(Path(tmp) / "val.npz", images=va[0][:n_val], labels=va[1][:n_val])
        out = subprocess.run([sys.executable, "-c", CHILD, tmp, device], capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="auto", help="auto | cpu | cuda | mps (default auto)")
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    from common import dataset_60k
    tr_x, tr_y, va_x, va_y, what = dataset_60k()
    print(f"data: {what}")
    mb = 1 / 2**20
    results = {}
    for n_train, n_val in ((6000, 1000), (60000, 10000)):
        r = run(n_train, n_val, (tr_x, tr_y), (va_x, va_y), args.device)
        results[n_train] = r
        print(f"{r['images']:>6} images: baseline after import torch {r['baseline'] * mb:7.1f} MB, "
              f"peak {r['peak'] * mb:7.1f} MB (+{(r['peak'] - r['baseline']) * mb:6.1f} MB), "
              f"extraction {r['seconds']:.2f} s on {r['device']}")
    small, big = results[6000], results[60000]
    print(f"peak difference 70k vs 7k: {(big['peak'] - small['peak']) * mb:.1f} MB (target <= 100)")
    print(f"70k peak above baseline: {(big['peak'] - big['baseline']) * mb:.1f} MB (target <= 300)")
    print(f"70k extraction: {big['seconds']:.2f} s (target <= 5), "
          f"{big['images'] / big['seconds']:,.0f} images/s")


if __name__ == "__main__":
    main()
