"""The explorer's script (explorer_app.js, a package file; the shared helpers.js goes in at its
/*@helpers.js@*/ mark), which draws the overview's feature grid and the
per-feature (#conv2/7) and per-class (#class/3) views from window.FEATUREMAPS (explorer.js).

Plain JavaScript, no library: the views are drawn on canvases from base64 uint8 arrays, routed by
the URL fragment, so links can be shared, typed, and followed back and forward; the arrow keys
step between features.
"""
from featuremaps.drawing.web import HELPERS, STYLE, package_text  # noqa: F401: STYLE is the page's too

SCRIPT = (package_text("featuremaps.report", "explorer_app.js").replace("/*@helpers.js@*/", HELPERS)
          .replace("/*@graph.js@*/", package_text("featuremaps.report", "graph.js"))
          .replace("/*@network.js@*/", package_text("featuremaps.report", "network.js"))
          .replace("/*@prepare.js@*/", package_text("featuremaps.report", "prepare.js")))
