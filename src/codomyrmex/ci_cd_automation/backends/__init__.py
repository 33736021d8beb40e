"""Provider backends: GitHub, GitLab and this machine behind one protocol.

* ``base``        the shared vocabulary: plans, file changes, sync results, normalised runs
                  and jobs, the ``Backend`` and ``RunBackend`` protocols;
* ``transport``   one HTTP adapter for PyGithub and python-gitlab: rate limits, bounded
                  retries, the request budget, redacted traces;
* ``credentials`` tokens and base URLs from the environment or a private config file;
* ``github``, ``gitlab``  plan and sync as one commit, trigger, poll, cancel, logs;
* ``local``       the local runner's runs behind the same ``RunBackend`` protocol;
* ``remote``      opening the provider backends the command line names;
* ``watch``       following a run with conditional polls until it ends;
* ``history``     saving provider runs to the store, and incremental pulls.

How sync and polling work, and why, is in docs/sync-and-polling.md.
"""
