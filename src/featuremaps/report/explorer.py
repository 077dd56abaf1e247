"""The explorer's data: everything the per-feature and per-class views of reports/index.html show,
as scripts (they load from file://, where fetch cannot): reports/explorer.js sets window.FEATUREMAPS
with what the first paint and the class views need (each feature's first optimised input, filter,
class means, selectivity and ablation); reports/explorer/layer/<layer>.js holds the rest of a layer's
feature views (optimised inputs, top images, maps, histograms), loaded when one is opened, and
reports/explorer/network.js the network's weights, loaded when the draw view opens. So a model with
thousands of channels (ResNet-18: 4,800) and 45 MB of weights opens as fast as its overview draws.

Images travel as base64 uint8 arrays, maps scaled to 0..255 with their scale beside them, and
the page draws them on canvases with the render params' colour maps (sampled here into 256-entry
tables), so no per-feature PNG is written. All of it comes from what the pipeline stored.
"""
from __future__ import annotations

import base64
import json
from pathlib import Path

import matplotlib
import numpy as np

from featuremaps.analysis.attribution_store import layer_gradcam
from featuremaps.analysis.feature_vis_store import layer_visualization
from featuremaps.analysis.store import layer_class_means, layer_columns
from featuremaps.drawing.encode import b64, colour_table_b64, scaled_b64, signed_b64
from featuremaps import paths
from featuremaps.files import atomic_folder, write_text
from featuremaps.data.margin import default_margin
from featuremaps.params import RenderParams
from featuremaps.report.catalogue import confusion_matrix, layer_top_k
from featuremaps.report.distributions import LayerDistribution, layer_distribution
from featuremaps.drawing.filters import all_inputs_drawn, drawn_kernels, strongest_inputs
from featuremaps.report.inputs import Inputs
from featuremaps.report.timelapse import slider_data



def _histogram(dist: LayerDistribution, feature: int) -> dict:
    edges = dist.edges[feature]
    return {"lo": float(edges[0]), "hi": float(edges[-1]),
            "density": [[] if d is None else d.round(6).tolist() for d in dist.densities(feature)]}


def filter_view(weights: np.ndarray) -> dict:
    """One feature's kernels [in, kh, kw] as the page draws them: every input channel, or the
    strongest FILTER_INPUTS with their indices (featuremaps.drawing.filters)."""
    inputs = strongest_inputs(weights[None])
    every = all_inputs_drawn(weights[None], inputs)
    kernels = drawn_kernels(weights[None], inputs)[0]
    data, scale = signed_b64(kernels)
    return {"data": data, "scale": scale, "shape": list(kernels.shape), "in_channels": int(weights.shape[0]),
            "inputs": None if every else [int(i) for i in inputs[0]]}


SUMMARY = ("thumb", "filter", "class_means", "selectivity", "class_mean_sum", "accuracy_lost")


def feature_views(inp: Inputs, params: RenderParams, layer: str) -> list:
    """One dict per feature of `layer`, in feature order: the SUMMARY keys go in explorer.js, the
    rest in the layer's own script (split_views)."""
    vis, classes = inp.visualizations, inp.classes
    dist = layer_distribution(inp.per_image, inp.means_split, layer, len(classes), params.hist_bins)
    means = dist.class_means
    lo, hi = np.nanmin(means, 0), np.nanmax(means, 0)
    scaled_means = np.divide(means - lo, hi - lo, out=np.zeros_like(means), where=hi > lo)
    rows = layer_top_k(inp.top_k, layer)
    split_images = inp.splits[rows["split"].iloc[0]][0]
    ablation = inp.ablation[inp.ablation["layer"] == layer]
    weights = inp.weights.get(layer)  # None: not a convolution, no kernels
    class_maps, example_maps = layer_class_means(inp.class_means, layer), inp.examples[layer]
    record = layer_visualization(vis, layer)
    best = record.dataset_value
    views = []
    for f in range(len(layer_columns(inp.per_image.columns, layer))):
        top = rows[rows["feature"] == f + 1]
        drop = ablation[ablation["channel"] == f + 1].set_index("class")
        optimised = list(record.images[f]) + [record.refined_images[f]]
        values = list(record.values[f]) + [record.refined_values[f]]
        class_data, class_top = scaled_b64(class_maps[:, f])
        example_data, example_top = scaled_b64(example_maps[:, f])
        views.append({
            "thumb": b64(optimised[0]),
            "filter": None if weights is None else filter_view(weights[f]),
            "vis": [b64(image) for image in optimised],
            "vis_ratio": [round(float(v / best[f]), 3) if best[f] > 0 else None for v in values],
            "negative": b64(record.negative_images[f]) if len(record.negative_images) else None,
            "negative_value": round(float(record.negative_values[f]), 4) if len(record.negative_values) else None,
            "optimum": None if not np.isfinite(record.neuron_optimum[f]) else
            [round(float(record.neuron_optimum[f]), 4), round(float(record.neuron_reached[f]), 4)],
            "top": [{"image": b64(split_images[r.index]), "label": classes[r.label], "index": int(r.index),
                     "box": [int(r.top), int(r.left), int(r.bottom), int(r.right)], "value": round(float(r.value), 4)}
                    for r in top.itertuples()],
            "class_means": {"data": class_data, "max": class_top, "shape": list(class_maps.shape[2:])},
            "examples": {"data": example_data, "max": example_top, "shape": list(example_maps.shape[2:])},
            "histogram": _histogram(dist, f),
            "selectivity": [round(float(v), 4) for v in scaled_means[:, f]],
            "class_mean_sum": [round(float(v), 4) if np.isfinite(v) else None for v in means[:, f]],
            "accuracy_lost": [round(100 * float(drop.loc[c, "baseline"] - drop.loc[c, "accuracy"]), 3)
                              if c in drop.index and np.isfinite(drop.loc[c, "accuracy"]) else None
                              for c in classes + ["all"]],
        })
    return views


MISCLASSIFIED_SHOWN = 24  # per class, in the class view


def class_views(inp: Inputs) -> list:
    att, classes = inp.attributions, inp.classes
    matrix = confusion_matrix(inp.confusion, classes)
    images, labels = inp.splits[str(att["split"])]
    views = []
    for c in range(len(classes)):
        wrong = [i for i, (t, p) in enumerate(zip(att["label"], att["pred"])) if t == c and t != p]
        all_wrong = [(int(i), int(p)) for i, p in zip(att["wrong_index"], att["wrong_pred"]) if labels[i] == c]
        views.append({
            "count": int(att["counts"][c]),
            "gradcam": {layer: scaled_b64(layer_gradcam(att, layer).class_mean[c])[0] for layer in inp.layers},
            "confusion": matrix[c].tolist(),
            "misclassified": [{"image": b64(att["input"][i]), "pred": int(att["pred"][i]),
                               "index": int(att["index"][i]),
                               "gradcam": {layer: scaled_b64(layer_gradcam(att, layer).pred[i])[0] for layer in inp.layers}}
                              for i in wrong],
            "all_misclassified": len(all_wrong),
            "misclassified_images": [{"image": b64(images[i]), "pred": p, "index": i}
                                     for i, p in all_wrong[:MISCLASSIFIED_SHOWN]],
        })
    return views


LAYER_SCRIPTS, NETWORK_SCRIPT = "layer", "network.js"  # in the scripts' folder


def explorer_data(inp: Inputs, params: RenderParams, scripts: str) -> dict:
    """Every view's data, split by write_explorer_data; scripts: the folder of the scripts loaded on
    demand, relative to the page."""
    layers = inp.layers
    class_inputs, _ = scaled_b64(inp.class_means["input_means"], 255.0)
    return {
        "dataset": inp.meta["dataset"], "classes": inp.classes, "layers": layers, "split": inp.means_split,
        "attribution_split": str(inp.attributions["split"]), "top_k_by": inp.top_k_by,
        "gradcam_map": str(inp.attributions["maps"]),
        "activation": inp.activation, "image_shape": list(inp.meta["image_shape"]),
        "channels": int(inp.meta["channels"]),
        "cmap": colour_table_b64(params.cmap), "diverging": colour_table_b64(params.diverging_cmap),
        "class_colours": [matplotlib.colors.to_hex(matplotlib.colormaps["tab10"](c % 10))
                          for c in range(len(inp.classes))],
        "class_inputs": class_inputs, "example_inputs": b64(inp.examples["input"]),
        "example_present": [bool(i >= 0) for i in inp.examples["index"]],
        "counts": [int(n) for n in inp.class_means["counts"]],
        "interpretability": inp.interpretability,
        "features": {layer: feature_views(inp, params, layer) for layer in layers},
        "layer_scripts": {layer: f"{scripts}/{LAYER_SCRIPTS}/{paths.layer_file_stem(layer)}.js" for layer in layers},
        "class_views": class_views(inp),
        "timelapse": slider_data(inp.timelapse, layers, *inp.splits["val"]),
        "network": dict(network_data(inp.network, inp.classes, inp.meta["image_shape"]),
                        script=f"{scripts}/{NETWORK_SCRIPT}"),
        "architecture": inp.architecture,
    }


def network_data(arrays: dict, classes: list, image_shape) -> dict:
    """The model for the page's own forward pass (report/network.js): its config, every tensor as
    base64 float32 (little-endian, as JavaScript's Float32Array reads it), and the margin a drawing
    is fitted with (featuremaps image's default for these classes)."""
    config = str(arrays["config"])
    if not json.loads(config).get("draw", True):  # the page does not run it: none of its weights
        return {"config": config, "margin": None, "tensors": {}}
    return {"config": config, "margin": default_margin(classes, image_shape),
            "tensors": {k: base64.b64encode(np.ascontiguousarray(v, dtype="<f4").tobytes()).decode("ascii")
                        for k, v in arrays.items() if k != "config"}}


def split_views(data: dict) -> tuple[dict, dict]:
    """(what explorer.js holds: every feature's SUMMARY keys and the network without its weights,
    {layer: the rest of each feature's view})."""
    main = dict(data, features={layer: [{k: f[k] for k in SUMMARY} for f in views]
                                for layer, views in data["features"].items()},
                network={k: v for k, v in data["network"].items() if k != "tensors"})
    rest = {layer: [{k: v for k, v in f.items() if k not in SUMMARY} for f in views]
            for layer, views in data["features"].items()}
    return main, rest


def _js(value) -> str:
    return json.dumps(value, separators=(",", ":"))


def write_explorer_data(path, folder, data: dict) -> None:
    """explorer.js at `path`, and in `folder` one script per layer calling window.FEATUREMAPS_LAYER(layer,
    its features' views), in a folder replaced whole (no script of a layer no longer extracted is left),
    and the network's weights calling window.FEATUREMAPS_NETWORK(tensors)."""
    main, rest = split_views(data)
    with atomic_folder(Path(folder) / LAYER_SCRIPTS) as out:
        for layer, views in rest.items():
            write_text(out / f"{paths.layer_file_stem(layer)}.js", f"window.FEATUREMAPS_LAYER({_js(layer)}, {_js(views)});\n")
    write_text(Path(folder) / NETWORK_SCRIPT, f"window.FEATUREMAPS_NETWORK({_js(data['network']['tensors'])});\n")
    write_text(path, "window.FEATUREMAPS = " + _js(main) + ";\n")
