"""The commands of ``cicd``, one module per command or family of commands.

``cli`` parses the command line and maps exceptions to exit codes; each module here does its
commands, returns their exit code and is imported only when its command runs: ``validate``,
``generate`` (and ``schema``), ``importing`` (``import``, ``translate``), ``audit``, ``run``,
``sync`` (``plan``, ``sync``), ``runs`` (the run commands); ``shared``: what several use.
"""
