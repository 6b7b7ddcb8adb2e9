"""Which extra a missing import needs: the optional dependencies by user.

The base install sends, signs, serves the fake Graph API and runs the
contract suite against a URL. The built-in reference receiver (Flask,
SQLAlchemy, ...) is the `receiver` extra; the in-process fake Graph API for
pytest (respx) is `pytest`; Locust is `load`. The command line imports those
lazily inside `needs_extra(...)`, which turns the import error of a missing
third-party module into one `MissingExtra` line naming the extra to install.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Final

from fakemeta.simulator.errors import MissingExtra

__all__ = ["EXTRAS", "needs_builtin_receiver", "needs_extra"]

#: Each extra and the top-level modules it installs (kept equal to
#: pyproject.toml's optional dependencies by a test).
EXTRAS: Final = {
    "receiver": ("flask", "flask_limiter", "sqlalchemy", "alembic", "cryptography", "msgspec"),
    "pytest": ("respx",),
    "load": ("locust",),
}


@contextlib.contextmanager
def needs_extra(extra: str, what: str, *, otherwise: str = "") -> Iterator[None]:
    """Run the block's imports; when one of `extra`'s modules is missing,
    raise `MissingExtra`: "`what` needs `module`: pip install 'fakemeta[extra]'",
    then `otherwise` (another way out) when given.

    Any other import error (a bug, a broken install of a base dependency)
    propagates unchanged."""
    try:
        yield
    except ImportError as error:
        missing = (error.name or "").partition(".")[0]
        if missing not in EXTRAS[extra]:
            raise
        hint = f"; {otherwise}" if otherwise else ""
        raise MissingExtra(
            f"{what} needs {missing}, which is not installed: pip install 'fakemeta[{extra}]'{hint}"
        ) from error


def needs_builtin_receiver() -> contextlib.AbstractContextManager[None]:
    """`needs_extra` for the commands that start the reference receiver when
    given no URL (`check`, `send`, `verify`, `load`)."""
    return needs_extra(
        "receiver",
        "the built-in reference receiver (started when no URL is given)",
        otherwise="or give the URL of a running receiver",
    )
