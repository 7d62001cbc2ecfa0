"""Tools built on the library: language server, formatter, diff, sweeps, visualisation.

Empty for now. Each tool is a module (or package) here that uses the library
and is reached from the command line through a command in `cnndsl/commands/`;
like every library module, a tool never imports `cnndsl.cli`.
"""
