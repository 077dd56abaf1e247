"""The render stage: figures and the HTML report from stored files only (no torch), and the
offline template of the `dvc plots` page."""
