"""The local runner: executes the neutral pipeline model on this machine (issue #4).

Modules, each owning one concern (their docstrings hold the invariants):

* ``event``     the simulated event (push, pull request, tag, schedule, manual) and the
                trigger and ``when`` filters evaluated against it;
* ``plan``      the job instances of a run: matrix expansion, dependencies, exclusions;
* ``scheduler`` the DAG over job instances, the worker pool, the status rules, cancel;
* ``executor``  one job instance: attempts, workspace, steps, outputs, artifacts, cache;
* ``process``   one shell script in its own process group, timeout, cancel, masked log;
* ``masking``   streaming secret masking;
* ``workspace`` the snapshot of the project's tracked files and fast per-job copies;
* ``storage``   artifacts and cache as folders, ``hash()`` of files;
* ``runner``    one run from start to end: store records, run folder, signals, the result;
* ``progress``  live progress, the dry-run plan and the summary table.

``runner.run_local`` is what ``cicd run`` and ``run_pipeline`` call.
"""
