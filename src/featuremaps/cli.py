"""The `featuremaps` command, for what is not a pipeline product (`dvc repro` makes those).

    featuremaps compare HEAD my-experiment     two revisions or experiments, feature by feature
    featuremaps --help, featuremaps compare --help

A bad argument, revision or file ends the command with one line and exit status 1.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from featuremaps.compare.comparison import STATS
from featuremaps.errors import FeaturemapsError

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


def compare(args) -> int:
    from featuremaps.compare.comparison import compare_sides, summary_lines
    from featuremaps.compare.output import PAGE, default_folder, write_comparison
    from featuremaps.compare.sides import check_comparable, fetch_split, read_side
    from featuremaps.params import load_params

    repo = Path(args.repo)
    render = load_params(repo / "params.yaml").render
    out = Path(args.out) if args.out else repo / default_folder(args.a, args.b)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="featuremaps-compare-") as tmp:
        a = read_side(repo, args.a, Path(tmp) / "a")
        b = read_side(repo, args.b, Path(tmp) / "b")
        layers = args.layers or a.layers
        check_comparable(a, b, layers)
        splits = sorted(set(a.top_k["split"]) | set(b.top_k["split"]))
        images = {split: fetch_split(repo, a, split) for split in splits}
        read_s = time.perf_counter() - start
        start = time.perf_counter()
        c = compare_sides(a, b, layers, args.threshold, args.by)
        write_comparison(out, c, render, images)
    print(f"A = {a.name} ({a.commit[:10]}), B = {b.name} ({b.commit[:10]}): {a.meta['dataset']}, "
          f"{len(a.per_image):,} images")
    print("\n".join(summary_lines(c)))
    print(f"wrote {out / PAGE} and its numbers; read the revisions through DVC in {read_s:.1f} s, "
          f"compared and drew in {time.perf_counter() - start:.1f} s")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="featuremaps",
        description="What a small CNN's convolutional layers see, beyond the pipeline (`dvc repro`).",
        epilog="example:\n  featuremaps compare HEAD my-experiment\n\nEach command's --help has more.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = top.add_subparsers(title="commands", metavar="COMMAND", required=True)
    cmp = commands.add_parser(
        "compare", help="compare two revisions or experiments feature by feature (CKA, matched channels)",
        description="Compare the features of two revisions or experiments of this repository: linear CKA of every "
                    "pair of layers, and each layer's channels matched one to one by their correlation over the "
                    "same images; writes a page, a figure and compare.json, and prints a table.",
        epilog=COMPARE_EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    cmp.add_argument("a", metavar="A", help="the first revision, experiment name, or workspace")
    cmp.add_argument("b", metavar="B", help="the second one")
    cmp.add_argument("--out", metavar="DIR", help="output folder (default: reports/compare/<A>-vs-<B>)")
    cmp.add_argument("--layers", type=_names, metavar="L1,L2",
                     help="layers to match channel by channel (default: every layer extracted in A)")
    cmp.add_argument("--threshold", type=_fraction, default=0.5, metavar="R",
                     help="a matched pair correlated less than this is reported as no good match (default 0.5)")
    cmp.add_argument("--by", choices=sorted(STATS), default="max",
                     help="each channel's number per image: max, its strongest unit (default; whether the pattern "
                          "occurs anywhere), or sum, its whole map (grows with the ink in the image)")
    cmp.add_argument("--repo", default=".", metavar="DIR", help="the repository (default: the current folder)")
    cmp.set_defaults(run=compare)
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
