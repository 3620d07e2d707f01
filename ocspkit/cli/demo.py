"""``ocspkit demo``: the offline tour (see :mod:`ocspkit.demo`)."""

from __future__ import annotations

import argparse

from .common import SubParsers, add_json_flag

__all__ = ["register", "run"]


def register(sub: SubParsers) -> None:
    """Add ``demo`` to the subcommands."""
    p = sub.add_parser(
        "demo",
        help="run an offline demo: throwaway CA, local responder, stapling TLS server",
        description="Make a throwaway CA, start a local OCSP responder and a stapling TLS "
        "server on loopback, then request, query and validate a response, revoke the "
        "certificate, query again, and probe the server's staple. Offline, a few seconds.",
    )
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``ocspkit demo``."""
    from ..demo import run_demo

    return run_demo(json_output=args.json)
