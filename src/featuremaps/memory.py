"""How much memory the stages keep to, whatever the number of images (the cost check counts the same).

IN_MEMORY_BYTES: a dataset split of up to this many bytes is read into memory whole (uint8); a larger
one is read from disk a batch at a time. Training's random batches gather about 20x faster from
memory than with a read per row (the default's 15 epochs run about 9% faster than from disk).
ROW_GROUP_BYTES: a table written as its rows are computed (per_image.parquet) is written in row
groups of about this many bytes (16 MiB: at 64 MiB, extract peaked 333 MiB higher at 1M images than at 100k).
"""
IN_MEMORY_BYTES = 256 << 20
ROW_GROUP_BYTES = 16 << 20
