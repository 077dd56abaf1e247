"""Stage attribute: where decisions come from. Grad-CAM and Integrated Gradients per image,
mean Grad-CAM per class, per-class accuracy with each channel zeroed, interpretability metrics.

    python stages/attribute.py      (normally run by `dvc repro`)

Writes data/attributions/{gradcam.npz, ablation.parquet} and reports/interpretability.json.
"""
import logging
import time

from featuremaps import paths
from featuremaps.cost import check_costs, data_shape
from featuremaps.analysis.ablation import ablation_table, channel_statistics, interpretability_metrics, predictions
from featuremaps.analysis.attribution import class_mean_gradcam, example_attributions, example_indices
from featuremaps.analysis.attribution_store import write_attributions, write_interpretability
from featuremaps.data.store import read_meta, read_split
from featuremaps.model.checkpoint import load_checkpoint
from featuremaps.model.device import select_device
from featuremaps.model.network import check_layers
from featuremaps.params import load_params, reported_as
from featuremaps.stage import run_stage


def main():
    params = load_params()
    p, layers = params.attribute, params.extract.layers
    with reported_as("attribute.device", p.device):
        device = select_device(p.device)
    meta = read_meta(paths.DATASET)
    check_costs(params, data_shape(meta))
    model, ckpt = load_checkpoint(paths.MODEL, {"image_shape": meta["image_shape"],
                                                "n_classes": len(meta["classes"])})
    with reported_as("extract.layers", layers):
        check_layers(model, layers)
    images, labels = read_split(paths.DATASET, p.split)
    classes, mean, std = meta["classes"], ckpt["mean"], ckpt["std"]
    log = logging.getLogger("featuremaps")
    start = time.perf_counter()
    preds = predictions(model, images, mean, std, p.batch_size, device)
    pick = example_indices(labels, preds, len(classes), p.n_misclassified)
    examples = example_attributions(model, layers, images[pick], labels[pick], preds[pick], mean, std,
                                    p.ig_steps, device)
    examples.update(index=pick, label=labels[pick], pred=preds[pick], input=images[pick])
    wrong = (labels != preds).nonzero()[0]
    examples.update(wrong_index=wrong, wrong_pred=preds[wrong])
    class_means, counts, mean_input = class_mean_gradcam(model, layers, images, labels, mean, std, len(classes),
                                                         p.batch_size, device)
    gradcam_seconds = time.perf_counter() - start
    table = ablation_table(model, layers, images, labels, preds, mean, std, classes, p.batch_size, device)
    stats = channel_statistics(model, layers, images, labels, mean, std, len(classes), p.batch_size, device)
    metrics = interpretability_metrics(stats, table)
    write_attributions(paths.ATTRIBUTIONS, p.split, layers, examples, class_means, counts, mean_input, table)
    write_interpretability(paths.INTERPRETABILITY, metrics)
    log.info("%d %s images: Grad-CAM and IG in %.1f s, ablation of %d channels in %.1f s; %s", len(images),
             p.split, gradcam_seconds, len(set(zip(table["layer"], table["channel"]))),
             time.perf_counter() - start - gradcam_seconds,
             "; ".join(f"{layer}: {m['dead_channels']} dead, selectivity {m['mean_selectivity']:.2f}, "
                       f"largest drop {m['max_accuracy_drop']:.2%} (channel {m['max_drop_channel']})"
                       for layer, m in metrics.items()))


if __name__ == "__main__":
    run_stage(main)
