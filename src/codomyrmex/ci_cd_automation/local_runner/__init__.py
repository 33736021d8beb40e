"""The local runner: executes the neutral pipeline model on this machine.

* ``event``     the simulated event (what triggers and ``when`` make of it: ``model.conditions``);
* ``plan``      the job instances of a run: matrix expansion, dependencies, exclusions;
* ``scheduler`` the DAG over job instances, the worker pool, the status rules, cancel;
* ``executor``  one job instance: attempts, workspace, steps, outputs, artifacts, cache;
* ``process``   one shell script in its own process group, timeout, cancel, masked log;
* ``masking``   streaming secret masking;
* ``workspace`` the snapshot of the project's tracked files and fast per-job copies;
* ``storage``   artifacts and cache as folders, ``hash()`` of files;
* ``git``       one hermetic way to run git for the event, the snapshot and the project root;
* ``runner``    one run from start to end (``run_local``, what ``cicd run`` and
                ``run_pipeline`` call): store records, run folder, signals, the result;
* ``result``    the typed result of a run and its dictionary;
* ``progress``  live progress, the dry-run plan and the summary table.

See docs/local-runner.md.
"""
