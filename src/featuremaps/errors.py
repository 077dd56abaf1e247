"""The project's error types: each carries one line saying what, where and what is allowed."""


class FeaturemapsError(Exception):
    """A bad input, parameter or file; the stage stops with this one-line message."""


class ParamsError(FeaturemapsError):
    """A value in params.yaml that is unknown, of the wrong type or out of range."""


class ArgumentError(FeaturemapsError):
    """An argument a library function cannot use (a device this machine lacks, a layer the model
    does not have). Its message speaks of the value; a stage that took the value from params.yaml
    reports it under the key (featuremaps.params.reported_as)."""


class DatasetError(FeaturemapsError):
    """A dataset file or source that cannot be read or is inconsistent."""


class SourceUnavailable(DatasetError):
    """A data source that cannot be reached (no network, no npm)."""


class ArtifactError(FeaturemapsError):
    """A file passed between stages that is missing, truncated or does not match."""


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first non-empty line of a library's exception message (its type where it has none),
    cut to `limit` characters, for quoting inside our one-line messages."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return (lines[0] if lines else exc.__class__.__name__)[:limit]
