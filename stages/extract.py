"""Stage extract: every image's conv activations, streamed through forward hooks.

    python stages/extract.py      (normally run by `dvc repro`)

Writes data/activations/{per_image.parquet, class_means.npz, examples.npz, top_k.parquet}.
"""
import logging
import time

from featuremaps.activation_store import write_extraction
from featuremaps.activations import extract_activations, layer_weights
from featuremaps.dataset import SPLITS, read_meta, read_split
from featuremaps.device import select_device
from featuremaps.model import load_checkpoint
from featuremaps.params import load_params
from featuremaps.stage import run_stage

DATA = "data/dataset"


def main():
    params = load_params()
    device = select_device(params.extract.device, "extract.device")
    meta = read_meta(DATA)
    model, ckpt = load_checkpoint("data/model/model.pt", {"image_shape": meta["image_shape"],
                                                          "n_classes": len(meta["classes"])})
    splits = {split: read_split(DATA, split) for split in SPLITS}
    log = logging.getLogger("featuremaps")
    log.info("extracting %s (%s) from %d images on %s", ", ".join(params.extract.layers),
             params.extract.activation, sum(len(labels) for _, labels in splits.values()), device)
    start = time.perf_counter()
    ex = extract_activations(model, splits, ckpt["mean"], ckpt["std"], params.extract, meta["classes"], device)
    seconds = time.perf_counter() - start
    write_extraction(ex, "data/activations", layer_weights(model, ex.layers))
    log.info("%d images, layers %s (%s) in %.1f s", len(ex.per_image["index"]), ", ".join(ex.layers),
             ex.activation, seconds)
    missing = [ex.classes[c] for c, i in enumerate(ex.examples["index"]) if i < 0]
    if missing:
        log.warning("no %s image of class %s: its example row is left empty", ex.means_split, ", ".join(missing))


if __name__ == "__main__":
    run_stage(main)
