"""Provider backends (issue #5): GitHub and GitLab behind one protocol.

So far: the shared vocabulary (``base``: plans, file changes, sync results, the protocol),
credentials (``credentials``) and the two providers' plan and sync (``github``, ``gitlab``).
Trigger, status, watch, cancel, logs, run history and monitoring are not built yet; the
public functions that need them raise ``NotBuiltError`` naming issue #5.
"""
