"""The `reglab` command line: REST commands here, server commands plugged in when installed.

Each command lives in a module of its own with ``add_parser(subparsers)``;
:mod:`reglab.cli.main` lists them. The REST commands need only this package
(``pip install reglab``). The server's commands (``up``, ``token``,
``migrate``) and the worker's (``worker``) are plugged in from their packages
when their extras are installed, and otherwise answer with the ``pip install``
line that adds them.
"""
