"""Tools built on the library: language server, formatter, diff, sweeps, visualisation.

`fmt.py` (with `layout.py`) is the formatter; `lsp.py` the language server
(with `analysis.py` and `features.py`, which know nothing of the protocol).
Each tool is a module (or package) here that uses the library
and is reached from the command line through a command in `cnndsl/commands/`;
like every library module, a tool never imports `cnndsl.cli`.
"""
