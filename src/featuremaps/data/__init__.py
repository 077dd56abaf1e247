"""The download stage: dataset sources, the IDX reader, and the stored dataset (data/dataset)."""
