"""The `featuremaps` command, for what is not a pipeline product (`dvc repro` makes those).

    featuremaps compare HEAD my-experiment     two revisions or experiments, feature by feature
    featuremaps image my-digit.png             your own image through the trained network
    featuremaps sweep                          the baseline and all its experiments, as one study
    featuremaps --help, featuremaps compare --help, featuremaps image --help

A bad argument, revision or file ends the command with one line and exit status 1.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from featuremaps import paths
from featuremaps.compare import REPRESENTATIONS
from featuremaps.errors import FeaturemapsError
from featuremaps.params import Params, load_params, reported_as

COMPARE_EXAMPLE = """\
example:
  dvc exp run -S train.lr=0.003 -n fast
  featuremaps compare HEAD fast
      -> reports/compare/HEAD-vs-fast/index.html, similarity.png, compare.json

A and B: a commit, branch or tag, a `dvc exp` name, or `workspace`. Their files are read through
DVC (from its cache, or fetched from the remote), never checked out; both must have run the
pipeline on the same dataset.
"""


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; give one from -1 to 1") from None
    if not -1 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not a correlation; give one from -1 to 1")
    return value


def _names(text: str) -> list:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give layer names separated by commas, e.g. conv1,conv2")
    return names


def _metric_names(text: str) -> list:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give metric names separated by commas, e.g. val_accuracy,conv2.cka")
    return names


def compare(args) -> int:
    from featuremaps.command_output import checked_folder, command_folder
    from featuremaps.compare.comparison import compare_sides, summary_lines
    from featuremaps.compare.output import PAGE, check_figure_budget, default_folder, write_comparison
    from featuremaps.compare.sides import check_comparable, fetch_split, read_side

    repo = Path(args.repo)
    out = checked_folder(args.out if args.out is not None else repo / default_folder(args.a, args.b), "compare", repo)
    render = load_params(repo / paths.PARAMS).render
    start = time.perf_counter()
    with command_folder(out, "compare") as (building, scratch):
        a = read_side(repo, args.a, scratch / "a")
        b = read_side(repo, args.b, scratch / "b")
        layers = args.layers or [layer for layer in a.layers if layer in b.layers]
        check_comparable(a, b, layers)
        splits = sorted(set(a.top_k["split"]) | set(b.top_k["split"]))
        images = {split: fetch_split(a, split) for split in splits}
        read_s = time.perf_counter() - start
        start = time.perf_counter()
        c = compare_sides(a, b, layers, args.threshold, args.by)
        check_figure_budget(c, render, out)
        write_comparison(building, c, render, images)
    warn_if_stale(repo, [args.a, args.b])  # after the read: a read that failed has said why already
    print(f"A = {a.name} ({a.commit[:10]}), B = {b.name} ({b.commit[:10]}): {a.meta['dataset']}, "
          f"{a.n_images:,} images")
    print("\n".join(summary_lines(c)))
    for side, other in ((a, b), (b, a)):
        alone = [layer for layer in side.layers if layer not in other.layers]
        if alone and not args.layers:
            print(f"not matched: {', '.join(alone)} (only in {side.name}; {other.name} has "
                  f"{', '.join(other.layers)})")
    print(f"wrote {out / PAGE} and its numbers; read the revisions through DVC in {read_s:.1f} s, "
          f"compared and drew in {time.perf_counter() - start:.1f} s")
    return 0


IMAGE_EXAMPLE = """\
example:
  featuremaps image docs/examples/*.png
      -> reports/images/index.html, one figure per image, images.json
  featuremaps image photo.jpg --rev my-experiment     the model of an experiment, read through DVC

Each image is made to look like the training data: grey, light on dark (a dark digit on paper is
inverted), and at the model's input size: one already that size is used as it is, any other is
cropped to its ink and scaled, keeping its aspect ratio, into the frame less --margin pixels.
"""


def _margin(text: str):
    if text == "auto":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give auto or a whole number of pixels from 0 to 10") from None
    if not 0 <= value <= 10:
        raise argparse.ArgumentTypeError(f"{text}: give auto or a whole number of pixels from 0 to 10")
    return value


def image(args) -> int:
    from featuremaps.command_output import checked_folder, command_folder
    from featuremaps.image.page import summary_line
    from featuremaps.data.margin import default_margin
    from featuremaps.image.report import check_figure_budget, image_layers, prepared_images, write_image_report

    repo = Path(args.repo)
    out = checked_folder(args.out if args.out is not None else repo / paths.IMAGES, "image", repo)
    params = load_params(repo / paths.PARAMS) if (repo / paths.PARAMS).exists() else Params()
    with command_folder(out, "image") as (building, scratch):
        model, ckpt, model_name = image_model(repo, args, scratch)
        size = tuple(ckpt["config"]["image_shape"])
        with reported_as("extract.layers", params.extract.layers):
            shown = image_layers(model, params.extract.layers, size)
        check_figure_budget(model, shown, size, len(ckpt["classes"]), params.render, out)
        margin = default_margin(ckpt["classes"], size) if args.margin is None else args.margin
        images, errors = prepared_images(args.paths, size, margin, ckpt["config"]["in_channels"])
        records = []
        if images:
            records, failed = write_image_report(images, model, ckpt, model_name, building, params.render,
                                                 params.extract.activation, shown)
            errors += failed
        if not records:
            raise_nothing_done(errors)
    for line in errors:
        print(f"error: {line}", file=sys.stderr)
    print("\n".join(summary_line(r) for r in records))
    print(f"wrote {out / 'index.html'}: {len(records)} image{'s' if len(records) > 1 else ''}")
    return 1 if errors else 0


def raise_nothing_done(errors: list) -> None:
    """No image could be used: the errors, each on its line, and nothing written (the folder stays as it was)."""
    for line in errors[:-1]:
        print(f"error: {line}", file=sys.stderr)
    raise FeaturemapsError(errors[-1] if errors else "no image given")


def image_model(repo: Path, args, scratch: Path):
    """(model, checkpoint, how to name it): --model's file, or data/model/model.pt of --rev through DVC."""
    from featuremaps.model.checkpoint import load_checkpoint, read_checkpoint
    from featuremaps.model.sources import factory_file
    if args.rev is None:
        path = Path(args.model) if args.model else repo / paths.MODEL
        model, ckpt = load_checkpoint(path, root=repo)  # a model.factory file is the project's
        return model, ckpt, str(path)
    from featuremaps.revisions import fetch, open_revision
    fs, commit = open_revision(repo, args.rev)
    fetch(fs, args.rev, paths.MODEL, scratch)
    made_by = factory_file(read_checkpoint(scratch / paths.MODEL)["config"])
    if made_by is not None:  # the model's code as the revision has it, not the working folder's
        fetch(fs, args.rev, made_by, scratch)
    model, ckpt = load_checkpoint(scratch / paths.MODEL, root=scratch)
    return model, ckpt, f"{paths.MODEL} of {args.rev} ({commit[:10]})"


def layers(args) -> int:
    from featuremaps.model.listing import layer_lines, listed_model
    repo = Path(args.repo)
    model, config, shown = listed_model(repo, Path(args.model) if args.model else None, args.params)
    print(f"{shown}:")
    print("\n".join(layer_lines(model, config)))
    return 0


SWEEP_EXAMPLE = """\
example:
  dvc exp run --queue -S 'seed=range(0,5)' -S 'model.conv_channels=choice([6,16],[6,32])'
  dvc queue start -j 1          # or run shares of the grid on other machines, then dvc exp push origin
  dvc exp pull origin --all     # everyone's experiments, with their data
  featuremaps sweep             # HEAD and every experiment of HEAD
      -> reports/sweep/index.html, sweep.png, sweep.json

RUN: a commit, branch or tag, a `dvc exp` name, or `workspace`, read through DVC (its cache, or
the remote it names), never checked out. All runs must be of one dataset.
"""


def warn_if_stale(repo: Path, names: list) -> None:
    """One warning line (on stderr) when the workspace is among `names` and its outputs may not belong together."""
    from featuremaps.revisions import WORKSPACE, workspace_warning
    if WORKSPACE in names and (line := workspace_warning(repo)):
        print(f"warning: {line}", file=sys.stderr)


def sweep(args) -> int:
    from tqdm import tqdm

    from featuremaps.command_output import checked_folder, command_folder
    from featuremaps.sweep.output import PAGE, check_figure_budget, checked_metrics, write_sweep
    from featuremaps.sweep.runs import check_one_dataset, checked_names, default_names, read_run
    from featuremaps.sweep.study import study_of, summary_lines

    repo = Path(args.repo)
    out = checked_folder(args.out if args.out is not None else repo / paths.SWEEP, "sweep", repo)
    render = load_params(repo / paths.PARAMS).render
    start = time.perf_counter()
    names = checked_names((args.runs or default_names(repo)) + ([args.ref] if args.ref else []))
    ref_name = args.ref or names[0]
    with command_folder(out, "sweep") as (building, scratch):
        runs = [read_run(repo, name, scratch / f"run{i}") for i, name in
                enumerate(tqdm(names, desc="reading runs", unit="run", disable=None, leave=False))]
        ref = runs[names.index(ref_name)]
        check_one_dataset(runs, ref)
        read_s = time.perf_counter() - start
        start = time.perf_counter()
        study = study_of(runs, ref)
        metrics = checked_metrics(study, args.metrics)
        check_figure_budget(study, metrics, render, out)
        write_sweep(building, out, study, metrics, render, repo)
    warn_if_stale(repo, names)  # after the read: a read that failed has said why already
    print("\n".join(summary_lines(study, ["val_accuracy"] + [f"{layer}.cka" for layer in study.layers])))
    print(f"wrote {out / PAGE}; read {len(runs)} runs through DVC in {read_s:.1f} s, "
          f"related and drew them in {time.perf_counter() - start:.1f} s")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="featuremaps",
        description="What a small CNN's convolutional layers see, beyond the pipeline (`dvc repro`).",
        epilog="examples:\n  featuremaps compare HEAD my-experiment\n  featuremaps image my-digit.png\n"
               "  featuremaps sweep\n\n"
               "Each command's --help has more.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = top.add_subparsers(title="commands", metavar="COMMAND", required=True)
    cmp = commands.add_parser(
        "compare", help="compare two revisions or experiments feature by feature (CKA, matched channels)",
        description="Compare the features of two revisions or experiments of this repository: linear CKA of\n"
                    "every pair of layers, and each layer's channels matched one to one by their correlation over\n"
                    "the same images; writes a page, a figure and compare.json, and prints a table.",
        epilog=COMPARE_EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    cmp.add_argument("a", metavar="A", help="the first revision, experiment name, or workspace")
    cmp.add_argument("b", metavar="B", help="the second one")
    cmp.add_argument("--out", metavar="DIR", help="output folder (default: reports/compare/<A>-vs-<B>)")
    cmp.add_argument("--layers", type=_names, metavar="L1,L2",
                     help="layers to match channel by channel (default: every layer extracted in both)")
    cmp.add_argument("--threshold", type=_fraction, default=0.5, metavar="R",
                     help="a matched pair correlated less than this is reported as no good match (default 0.5)")
    cmp.add_argument("--by", choices=sorted(REPRESENTATIONS), default="max",
                     help="each channel's number per image: max, its strongest unit (default; whether the pattern "
                          "occurs anywhere), or sum, its whole map (grows with the ink in the image)")
    cmp.add_argument("--repo", default=".", metavar="DIR", help="the repository (default: the current folder)")
    cmp.set_defaults(run=compare)

    img = commands.add_parser(
        "image", help="your own images through the trained network: prediction, feature maps, Grad-CAM",
        description="Show what the trained network sees in your own images (PNG, JPEG, and whatever Pillow reads):\n"
                    "the input it was given, each class's probability, every conv layer's feature maps and\n"
                    "Grad-CAM for the predicted class; one figure per image, a page and images.json.",
        epilog=IMAGE_EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    img.add_argument("paths", nargs="+", metavar="PATH", help="image files")
    which = img.add_mutually_exclusive_group()
    which.add_argument("--model", metavar="FILE",
                       help=f"a model file written by the train stage (default: {paths.MODEL})")
    which.add_argument("--rev", metavar="REV", help="take the model of this revision or experiment, through DVC")
    img.add_argument("--out", metavar="DIR", help=f"output folder (default: {paths.IMAGES})")
    img.add_argument("--margin", type=_margin, default=None, metavar="PX",
                     help="pixels left on each side when fitting an image of another size (default auto: 4 of 28 "
                          "for MNIST-like digits, 0 for Fashion-MNIST)")
    img.add_argument("--repo", default=".", metavar="DIR", help="the repository (default: the current folder)")
    img.set_defaults(run=image)

    lay = commands.add_parser(
        "layers", help="the layers of the model, by the names extract.layers takes, with their shapes",
        description="List every layer of the model that has feature maps, named as PyTorch names its modules\n"
                    "(layer1.0.conv1; layer1.0.relu:2 for a module's second call in one forward), with its\n"
                    "output shape for one image of the dataset and its kernel, stride and padding. The model:\n"
                    f"{paths.MODEL} when it exists, else the one params.yaml describes (untrained).")
    lay_which = lay.add_mutually_exclusive_group()
    lay_which.add_argument("--model", metavar="FILE", help=f"a model file written by the train stage (default: {paths.MODEL})")
    lay_which.add_argument("--params", action="store_true", help="the model params.yaml describes, even when one is trained")
    lay.add_argument("--repo", default=".", metavar="DIR", help="the repository (default: the current folder)")
    lay.set_defaults(run=layers)

    swp = commands.add_parser(
        "sweep", help="many runs (a baseline and its experiments) as one study: params, metrics, CKA, figures",
        description="Read many runs of this repository through DVC as one study: a table of the params each\n"
                    "changed with its metrics and interpretability metrics, each layer's CKA to a reference run\n"
                    "and between seeds of the same settings, figures of metrics against params; writes a page,\n"
                    "a figure and sweep.json, and prints the table.",
        epilog=SWEEP_EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    swp.add_argument("runs", nargs="*", metavar="RUN",
                     help="runs to read (default: HEAD and every experiment of HEAD, as dvc exp list shows)")
    swp.add_argument("--ref", metavar="RUN", help="the run each CKA is to (default: the first run, HEAD by default)")
    swp.add_argument("--metrics", type=_metric_names, metavar="M1,M2",
                     help="metrics to draw against the params (default: val_accuracy and per layer its CKA to the "
                          "reference and mean_selectivity; any key of metrics.json, or <layer>.<key> of "
                          "interpretability.json, or <layer>.cka)")
    swp.add_argument("--out", metavar="DIR", help=f"output folder (default: {paths.SWEEP})")
    swp.add_argument("--repo", default=".", metavar="DIR", help="the repository (default: the current folder)")
    swp.set_defaults(run=sweep)
    return top


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except FeaturemapsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
