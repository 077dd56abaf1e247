"""Stage attribute: where decisions come from. Grad-CAM and Integrated Gradients per image,
mean Grad-CAM per class, per-class accuracy with each channel zeroed, interpretability metrics, and
the published claims about selectivity and importance checked (featuremaps.analysis.claims).

    python stages/attribute.py      (normally run by `dvc repro`)

Writes data/attributions/{gradcam.npz, ablation.parquet, claims.parquet} and reports/interpretability.json.
"""
import logging
import time

from featuremaps import paths
from featuremaps.analysis.ablation import ablation_table, channel_statistics, interpretability_metrics, predictions
from featuremaps.analysis.attribution import class_mean_gradcam, example_attributions, example_indices
from featuremaps.analysis.claims import ablation_selectivity, claims, set_ablation_words
from featuremaps.analysis.attribution_store import write_attributions, write_interpretability
from featuremaps.analysis.inputs import analysis_inputs
from featuremaps.data.store import read_split
from featuremaps.params import load_params
from featuremaps.stage import run_stage


def main():
    params = load_params()
    run = analysis_inputs(params, "attribute", params.extract.layers, paths.DATASET, paths.MODEL)
    p, layers, model, device = params.attribute, run.layers, run.model, run.device
    images, labels = read_split(paths.DATASET, p.split)
    classes = run.meta["classes"]
    log = logging.getLogger("featuremaps")
    start = time.perf_counter()
    preds = predictions(model, images, p.batch_size, device)
    pick = example_indices(labels, preds, len(classes), p.n_misclassified)
    examples = example_attributions(model, layers, images[pick], labels[pick], preds[pick], p.ig_steps, device,
                                    p.gradcam_map)
    examples.update(index=pick, label=labels[pick], pred=preds[pick], input=images[pick])
    wrong = (labels != preds).nonzero()[0]
    examples.update(wrong_index=wrong, wrong_pred=preds[wrong])
    class_means, counts, mean_input = class_mean_gradcam(model, layers, images, labels, len(classes),
                                                         p.batch_size, device, p.gradcam_map)
    gradcam_seconds = time.perf_counter() - start
    table = ablation_table(model, layers, images, labels, preds, classes, p.batch_size, device)
    stats = channel_statistics(model, layers, images, labels, len(classes), p.batch_size, device)
    table["selectivity"] = ablation_selectivity(table, stats, classes)
    metrics = interpretability_metrics(stats, table)
    checked, sets = claims(model, layers, images, labels, preds, stats, table, classes, p.ablate_k, p.random_draws,
                           params.seed, p.batch_size, device)
    for layer in layers:
        metrics[layer].update(checked[layer])
    write_attributions(paths.ATTRIBUTIONS, p.split, p.gradcam_map, layers, examples, class_means, counts, mean_input,
                       table, sets)
    write_interpretability(paths.INTERPRETABILITY, metrics)
    log.info("%d %s images: Grad-CAM and IG in %.1f s, ablation of %d channels in %.1f s; %s", len(images),
             p.split, gradcam_seconds, len(set(zip(table["layer"], table["channel"]))),
             time.perf_counter() - start - gradcam_seconds,
             "; ".join(f"{layer}: {m['dead_channels']} dead, selectivity {m['mean_selectivity']:.2f}, "
                       f"largest drop {m['max_accuracy_drop']:.2%} (channel {m['max_drop_channel']}), "
                       f"selectivity vs drop rho {m['selectivity_vs_drop_spearman']}, per class "
                       f"{m['class_selectivity_vs_class_drop_spearman']}, {set_ablation_words(m, p.ablate_k)}"
                       for layer, m in metrics.items()))


if __name__ == "__main__":
    run_stage(main)
