"""Every file passed between stages, named once.

The stage scripts take their paths from here and hand them to the library, whose functions
take paths as arguments; dvc.yaml lists the same paths as each stage's deps and outs
(tests/test_dvc_yaml.py holds the two equal). The names of the files inside a folder
output belong to the module that writes and reads that folder (see each comment).
"""
from pathlib import Path

PARAMS = Path("params.yaml")
MODELS = Path("models")                         # the user's model code and checkpoints (model.factory, model.checkpoint): train's dependency
DATA = Path("data")                             # the pipeline's data: every stage's cached outputs, downloads
PARAMS_OK = Path("data/params.ok")              # check: the whole params.yaml was valid
DOWNLOADS = Path("data/downloads")              # download's cache of fetched files; not a stage output
DATASET = Path("data/dataset")                  # download: featuremaps.data.store
MODEL_DIR = Path("data/model")                  # train: the folder DVC tracks
MODEL = MODEL_DIR / "model.pt"                  # train: featuremaps.model.checkpoint
SNAPSHOTS = MODEL_DIR / "snapshots.pt"         # train: featuremaps.model.snapshots
LIVE = Path("live")                             # train: DVCLive's folder, per epoch while it runs (featuremaps.model.live)
METRICS = Path("reports/metrics.json")          # train: featuremaps.model.records
HISTORY = Path("reports/plots/history.csv")     # train: featuremaps.model.records
CONFUSION = Path("reports/plots/confusion.csv")  # train: featuremaps.model.records
ACTIVATIONS = Path("data/activations")          # extract: featuremaps.analysis.store
VISUALIZATIONS = Path("data/visualizations")    # visualize: featuremaps.analysis.feature_vis_store
ATTRIBUTIONS = Path("data/attributions")        # attribute: featuremaps.analysis.attribution_store
INTERPRETABILITY = Path("reports/interpretability.json")  # attribute: featuremaps.analysis.attribution_store
TIMELAPSE = Path("data/timelapse")              # timelapse: featuremaps.analysis.timelapse_store
LIVE_IMAGES = LIVE / "plots/images"            # timelapse: step-indexed images for DVC's viewers (featuremaps.analysis.live_images)
FIGURES = Path("reports/figures")               # render: featuremaps.report.catalogue
REPORT = Path("reports/index.html")             # render: featuremaps.report.page
EXPLORER_DATA = Path("reports/explorer.js")     # render: featuremaps.report.explorer
EXPLORER_SCRIPTS = Path("reports/explorer")     # render: scripts loaded when a view needs them (featuremaps.report.explorer)
COMPARE = Path("reports/compare")              # featuremaps compare's default: featuremaps.compare.output
IMAGES = Path("reports/images")                # featuremaps image's default: featuremaps.image.report
SWEEP = Path("reports/sweep")                  # featuremaps sweep's default: featuremaps.sweep.output


def layer_file_stem(layer: str) -> str:
    """A layer's name as it goes into a file name: a module path keeps its dots, a call's ':' (not
    allowed in Windows file names) becomes '-', which no module path contains."""
    return layer.replace(":", "-")


# The stage that writes each stage output above: the stores name it when a file is missing or damaged
# ("rerun the train stage").
WRITER = {DATASET: "download", MODEL_DIR: "train", MODEL: "train", SNAPSHOTS: "train", LIVE: "train",
          METRICS: "train", HISTORY: "train",
          CONFUSION: "train", ACTIVATIONS: "extract", VISUALIZATIONS: "visualize", ATTRIBUTIONS: "attribute",
          INTERPRETABILITY: "attribute", TIMELAPSE: "timelapse", LIVE_IMAGES: "timelapse"}
