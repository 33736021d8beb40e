"""The commands of ``cicd``, one module per command or family of commands.

``cli`` parses the command line and maps exceptions to exit codes; the modules here do the
commands and return their exit code. Each is imported only when its command runs, so the
start-up of one command does not pay for the others.

* ``validate``   ``cicd validate``: every problem of pipeline files;
* ``generate``   ``cicd generate`` (native files of a pipeline, or ``--check``) and
                 ``cicd schema``;
* ``importing``  ``cicd import`` and ``cicd translate``: native CI files through the model;
* ``audit``      ``cicd audit``: how much of a set of CI files converts;
* ``run``        ``cicd run``: a pipeline on this machine;
* ``sync``       ``cicd plan`` and ``cicd sync``: generated files against a repository;
* ``runs``       ``cicd trigger``, ``status``, ``watch``, ``cancel``, ``logs``, ``runs pull``:
                 provider runs and their history;
* ``shared``     what several commands use: exit codes, ``KEY=VALUE`` flags, atomic writes,
                 counted words, the backends a command's flags name.
"""
