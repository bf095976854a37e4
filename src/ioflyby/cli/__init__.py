"""The ``ioflyby`` command. Thin: every verb parses options, calls the library, prints.

Each stage registers its verbs in its own module under ``ioflyby.cli``, listed in
:data:`ioflyby.cli.app.VERBS` and imported only when one of its verbs runs; errors a user can cause
(:class:`ioflyby.errors.IoflybyError`) are printed as one line and exit with status 2.
"""

from ioflyby.cli.app import app, main

__all__ = ["app", "main"]
