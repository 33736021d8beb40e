"""The local runner: executes the neutral pipeline model on this machine.

``runner.run_local`` (behind ``cicd run`` and ``run_pipeline``) runs a pipeline with ``event``,
``plan`` (job instances), ``scheduler`` (the DAG, the worker pool), ``executor`` (one job
instance), ``process`` (one script in its own process group), ``masking``, ``workspace``,
``storage`` (artifacts, cache), ``git``, ``result``, ``progress``. See docs/local-runner.md.
"""
