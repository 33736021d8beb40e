"""``cicd audit``: prints the report of ``audit.audit_paths``, as text or as JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..audit import audit_paths
from .shared import EXIT_OK


def audit(paths: Sequence[str], as_json: bool) -> int:
    report = audit_paths(paths)
    if as_json:
        print(json.dumps(report.as_json(), indent=2, sort_keys=True))
    else:
        print(report.format())
    return EXIT_OK
