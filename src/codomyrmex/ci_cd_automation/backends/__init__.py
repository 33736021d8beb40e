"""Provider backends: GitHub, GitLab and this machine behind one protocol.

``base`` holds the shared vocabulary and the ``Backend``/``RunBackend`` protocols; ``github``,
``gitlab`` and ``local`` implement them; ``transport`` is the HTTP policy of both provider
libraries, ``credentials`` where tokens come from, ``remote`` opens the backends a command
names, ``watch`` follows a run, ``history`` saves runs to the store. See docs/sync-and-polling.md.
"""
