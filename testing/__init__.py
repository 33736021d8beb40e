"""Helpers for the test suite and the benchmarks, kept beside ``tests/``.

``judges`` runs the external judges (check-jsonschema, actionlint, zizmor, shellcheck) and the
local runners (gitlab-ci-local, act) on generated files; ``roundtrip`` compares a native CI file
with the file generated again from its import; ``repos`` builds git repositories to run jobs
in; ``runs`` checks what a real run leaves behind; ``cli`` runs the ``cicd`` command as a user
would.

This package is not part of the distribution: ``pyproject.toml`` installs ``src/`` only. Tests
import it from the checkout (pytest puts the repository root on ``sys.path``).
"""
