"""Stage timelapse: how the features formed, from the weight snapshots train kept.

    python stages/timelapse.py      (normally run by `dvc repro`)

On a seeded probe set of timelapse.probe_size val images, for every snapshot epoch and conv layer:
CKA to the best epoch (model.pt), class selectivity, dead channels, filters, top probe images; the
feature visualisations at timelapse.vis_epochs. Writes data/timelapse/timelapse.npz and the
step-indexed images of live/plots/images (DVCLive, for DVC's viewers).
"""
import logging
import time

from featuremaps import paths
from featuremaps.analysis.inputs import analysis_inputs
from featuremaps.analysis.timelapse import first_epoch_above, layer_timelapses, probe_indices, reference_epoch, visualize_epochs
from featuremaps.analysis.timelapse_store import write_timelapse
from featuremaps.data.store import read_split
from featuremaps.drawing.live_images import write_live_images
from featuremaps.model.epochs import dropped_note, visualized_epochs
from featuremaps.model.snapshots import read_snapshots
from featuremaps.params import VisualizeParams, load_params
from featuremaps.stage import run_stage


def main():
    params = load_params()
    t = params.timelapse
    vis_epochs, dropped = visualized_epochs(params.train.epochs, params.train.snapshot_every, t.vis_epochs)
    # the visualize stage's gradient ascent, with the timelapse's own number of seeds
    ascent = VisualizeParams(
        objective=params.visualize.objective, steps=params.visualize.steps, lr=params.visualize.lr,
        jitter=params.visualize.jitter, scale=params.visualize.scale, rotate=params.visualize.rotate,
        parametrisation=params.visualize.parametrisation, tv=params.visualize.tv, l1=params.visualize.l1,
        diversity=params.visualize.diversity, seeds=t.seeds)
    run = analysis_inputs(params, "timelapse", params.extract.layers, paths.DATASET, paths.MODEL)
    model, layers = run.model, run.layers
    images, labels = read_split(paths.DATASET, "val")
    probe = probe_indices(len(images), t.probe_size, params.seed)
    states = read_snapshots(paths.SNAPSHOTS)
    log = logging.getLogger("featuremaps")
    if note := dropped_note(dropped):
        log.info(note)
    if len(probe) < t.probe_size:
        log.info("timelapse.probe_size = %d: the val split holds %d images, all of them probed", t.probe_size,
                 len(probe))
    start = time.perf_counter()
    reference = {k: v.clone() for k, v in model.state_dict().items()}
    lapses = layer_timelapses(model, states, reference, layers, images[probe], labels[probe],
                              len(run.meta["classes"]), t.top_k, params.extract.batch_size, run.device)
    measured = time.perf_counter() - start
    fields = {}
    for layer in layers:
        vis, values = visualize_epochs(model, [states[e] for e in vis_epochs], layer, images[probe],
                                       ascent, t.seeds, params.extract.activation, params.seed, run.device)
        fields[layer] = {**vars(lapses[layer]), "vis": vis, "vis_value": values}
    model.load_state_dict(reference)
    epochs = sorted(states)
    write_timelapse(paths.TIMELAPSE, fields, epochs, reference_epoch(states, reference), vis_epochs, probe,
                    ascent.objective, params.extract.activation)
    write_live_images(paths.LIVE_IMAGES, epochs, {layer: fields[layer]["filters"] for layer in layers}, vis_epochs,
                      {layer: fields[layer]["vis"] for layer in layers})
    if not epochs:
        log.info("no snapshots (train.snapshot_every = 0): nothing to show")
        return
    log.info("%d epochs x %d probe images in %.1f s, %d vis epochs in %.1f s; CKA to the best epoch first "
             ">= 0.9 / 0.99 at epoch: %s", len(epochs), len(probe), measured, len(vis_epochs),
             time.perf_counter() - start - measured,
             "; ".join(f"{layer} {first_epoch_above(epochs, lapses[layer].cka, 0.9)} / "
                       f"{first_epoch_above(epochs, lapses[layer].cka, 0.99)}" for layer in layers))


if __name__ == "__main__":
    run_stage(main)
