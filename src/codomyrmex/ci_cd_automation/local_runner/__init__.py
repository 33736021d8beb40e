"""The local runner: executes the neutral pipeline model on this machine (issue #4).

This subpackage will hold the scheduler, the job executor, workspaces, artifacts, cache and
secret masking. So far it holds two building blocks, not yet wired into any command:
``masking`` (a streaming secret masker for log output) and ``process`` (one shell script run
in its own process group, with a timeout, cancellation and masked, streamed output).
"""
