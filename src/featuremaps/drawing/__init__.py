"""Drawing shared by render, `featuremaps compare` and `featuremaps image`: tiles and mosaics, the pixel
budget, a map over every core, arrays encoded for pages, and the pages' shared CSS and script."""
