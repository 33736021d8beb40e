"""Every exception the package raises, in one tree.

Configuration problems are also ``ValueError``::

    Exception
    ├── ValueError
    │   ├── PipelineValidationError     (also a CICDError)
    │   ├── PipelineImportError         (also a CICDError)
    │   └── UsageError                  (also a CICDError)
    └── CICDError
        ├── PipelineValidationError
        ├── PipelineImportError
        ├── UsageError
        ├── PipelineExecutionError
        ├── DeploymentError
        ├── RollbackError
        ├── MonitoringError
        ├── ReportGenerationError
        ├── OptimizationError
        ├── NotBuiltError               (also a RuntimeError)
        └── ProviderError
            ├── RateLimitError
            └── SyncConflictError
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model.diagnostics import Diagnostic


class CICDError(Exception):
    """Base of every error this package raises on purpose."""


class PipelineImportError(CICDError, ValueError):
    """Raised when a native CI file cannot be read into a neutral pipeline; one line."""

    def __init__(
        self, file: str, reason: str, line: int | None = None, column: int | None = None
    ) -> None:
        self.file = file
        self.reason = " ".join(reason.split())
        self.line = line
        self.column = column
        where = f"{file}:{line}:{column or 1}" if line is not None else file
        super().__init__(f"{where}: {self.reason}")

    def __reduce__(self) -> tuple[type[PipelineImportError], tuple[object, ...]]:
        return (type(self), (self.file, self.reason, self.line, self.column))


class PipelineValidationError(CICDError, ValueError):
    """Raised when a pipeline file or ``create_pipeline`` data is invalid; holds the diagnostics."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics: tuple[Diagnostic, ...] = tuple(diagnostics)
        super().__init__("\n".join(d.format() for d in self.diagnostics))


class UsageError(CICDError, ValueError):
    """Raised where input from the user (a flag, a file, a keyword, a value) is wrong; one line."""


class PipelineExecutionError(CICDError):
    """Raised when a runner cannot go on (not when a job fails: a failed job is data)."""


class DeploymentError(CICDError):
    """Raised when a deployment cannot be started or tracked."""


class RollbackError(CICDError):
    """Raised when a rollback cannot be carried out."""


class MonitoringError(CICDError):
    """Raised when run health cannot be read from the store or a provider."""


class ReportGenerationError(CICDError):
    """Raised when a report cannot be produced."""


class OptimizationError(CICDError):
    """Raised when a pipeline cannot be analysed for speed-ups."""


class NotBuiltError(CICDError, RuntimeError):
    """Raised by a public function that this release does not implement; says what it lacks."""


class ProviderError(CICDError):
    """Raised when a provider API call fails; carries provider, status code and request id."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status_code: int | None = None,
        request_id: str | None = None,
    ) -> None:
        self.provider = provider
        self.status_code = status_code
        self.request_id = request_id
        super().__init__(message)


class RateLimitError(ProviderError):
    """Raised when a provider's rate limit is spent and waiting would exceed the allowed budget."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status_code: int | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, provider=provider, status_code=status_code, request_id=request_id)


class SyncConflictError(ProviderError):
    """Raised when the branch moved again after a sync planned twice: nothing was committed."""
