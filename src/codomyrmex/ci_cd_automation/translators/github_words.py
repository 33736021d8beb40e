"""The neutral words and their GitHub Actions spelling, shared by the generator and the importer.

Written neutral -> GitHub; the importer inverts them. Apart from ``github.py``, so that importing
a workflow does not load the generator.
"""

from __future__ import annotations

# Neutral runner label -> GitHub-hosted runner label.
RUNNER_LABELS = {"linux": "ubuntu-latest", "windows": "windows-latest", "macos": "macos-latest"}
# Neutral trigger event -> GitHub event name.
EVENT_NAMES = {
    "push": "push",
    "pull_request": "pull_request",
    "schedule": "schedule",
    "manual": "workflow_dispatch",
}
# The neutral ci.* facts as GitHub expressions (job-independent ones).
CI_FACTS = {
    "sha": "github.sha",
    "ref": "github.ref",
    "branch": "github.head_ref || (startsWith(github.ref, 'refs/heads/') && github.ref_name) || ''",
    "event": "github.event_name == 'workflow_dispatch' && 'manual' || github.event_name",
    "run_id": "github.run_id",
    "workspace": "github.workspace",
}
