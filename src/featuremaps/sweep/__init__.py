"""`featuremaps sweep [RUN...]`: many runs (a baseline and its experiments, made on any machine and
shared through git and a DVC remote) read through DVC as one study: runs.py reads them, study.py
relates them, figures.py, page.py and output.py show them."""
