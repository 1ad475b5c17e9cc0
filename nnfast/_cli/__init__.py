"""Subcommands of the ``nnfast`` command line, one module each (see ``nnfast.cli``)."""
