"""What every stage script shares: run main(), turn the project's errors into one line."""
from __future__ import annotations

import logging
import resource
import sys

from featuremaps.errors import FeaturemapsError

log = logging.getLogger("featuremaps")


def run_stage(main) -> None:
    """Run a stage's main(); a FeaturemapsError ends it with one line and exit status 1,
    Ctrl-C with one line and the usual 130."""
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stderr)
    try:
        main()
        # What the cost check's estimate is measured against (featuremaps.cost); kB on Linux.
        log.info("peak memory %.0f MiB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    except FeaturemapsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        # Outputs are renamed into place whole, so there is nothing half-written to report.
        print("interrupted: run `dvc repro` again to finish", file=sys.stderr)
        sys.exit(130)
