"""Build the HTML template that makes `dvc plots show` / `dvc plots diff` draw offline.

    python -m featuremaps.report.plots_template .dvc/plots/offline.html     (run by `make`)

DVC's default page loads vega, vega-lite and vega-embed from a CDN at view time. This
fetches pinned releases once with `npm pack` (checksums verified) and inlines their
minified builds into a template that .dvc/config names as plots.html_template.
"""
from __future__ import annotations

import sys
import tarfile
import tempfile
from pathlib import Path

from featuremaps.npm import npm_pack
from featuremaps.errors import FeaturemapsError
from featuremaps.files import write_text

PACKAGES = {  # npm spec -> (file in the tarball, sha256 of the tarball)
    "vega@5.33.0": ("package/build/vega.min.js",
                    "7b61f992d1a1e196e7f2eeb3d6176e5694949d0d4bbfea237a842d523dd6e1f3"),
    "vega-lite@5.23.0": ("package/build/vega-lite.min.js",
                         "e4cbfdd8f6f1abe381c59cd558fd6a559c12b1496bfdf2e0c3295263a40fe4da"),
    "vega-embed@6.29.0": ("package/build/vega-embed.min.js",
                          "ecf1ee709c2bac9e0a4ead6908114b05b62c71493e10a8a4308109bb070f8eb1"),
}

PAGE = """<!DOCTYPE html>
<html>
<head>
    {refresh_tag}
    <meta charset="utf-8">
    <title>DVC Plot</title>
    <!-- vega, vega-lite and vega-embed inlined: this page needs no network -->
    %s
    <style>
        body { font-family: system-ui, sans-serif; }
        table { border-spacing: 15px; }
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""


def template_html() -> str:
    scripts = []
    with tempfile.TemporaryDirectory() as tmp:
        for spec, (member, sha256) in PACKAGES.items():
            folder = Path(tmp) / spec
            folder.mkdir()
            try:
                tarball = npm_pack(spec, sha256, folder, "it is needed once to fetch vega for offline plots")
            except FeaturemapsError as exc:
                raise SystemExit(str(exc)) from None
            with tarfile.open(tarball) as tar:
                scripts.append(tar.extractfile(member).read().decode("utf-8"))
    # "</script" inside the code would end the tag early; escape it.
    blocks = ["<script>" + s.replace("</script", "<\\/script") + "</script>" for s in scripts]
    return PAGE % "\n    ".join(blocks)


def main(argv=None) -> None:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else ".dvc/plots/offline.html")
    write_text(out, template_html())
    print(f"wrote {out} (vega, vega-lite, vega-embed inlined)")


if __name__ == "__main__":
    main()
