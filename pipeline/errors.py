"""Exception hierarchy. Every message names the file or key, what is wrong, and the fix."""


class PipelineError(Exception):
    """Base class: the CLI turns any of these into one line and a non-zero exit."""


class ManifestError(PipelineError):
    """The manifest (or a dataset layout it came from) is invalid. Carries every problem found."""

    def __init__(self, problems: list[str], source: str = "data_manifest.yaml") -> None:
        self.problems = list(problems)
        self.source = source
        head = f"{source}: {len(self.problems)} problem(s)"
        super().__init__(head + ("\n  - " + "\n  - ".join(self.problems) if self.problems else ""))


class ConfigError(PipelineError):
    """An extractor or training configuration value is invalid."""


class ExtractionError(PipelineError):
    """One recording could not be extracted; the runner logs it and goes on with the others."""


class CacheError(PipelineError):
    """The cache is missing, stale, incomplete or corrupt."""


class WeightsError(PipelineError):
    """Model weights are not available offline."""


class TrainingError(PipelineError):
    """Training cannot start or go on (e.g. over the memory budget, a non-finite loss)."""
