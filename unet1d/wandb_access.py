"""Whether and how a process reaches W&B: credentials, the mode ``auto`` resolves to, run ids.

In the bottom layer because training (its trackers), sweeps (run ids for local runs) and compare
(the W&B report) all ask it; none of them should import another to find out. Reads the
environment and ~/.netrc only to learn that a key exists; never a key's value.
"""

from __future__ import annotations

import netrc
import os
import secrets
import string
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_WANDB_HOSTS = ("api.wandb.ai",)


def has_wandb_credentials(environ: Mapping[str, str] | None = None) -> bool:
    """True when W&B could authenticate: ``WANDB_API_KEY`` or a netrc entry for the W&B host.

    Only checks that a key exists; whether it is valid is learnt (and survived) at ``wandb.init``.
    """
    env = os.environ if environ is None else environ
    if env.get("WANDB_API_KEY", "").strip():
        return True
    netrc_path = Path(env.get("NETRC") or Path(env.get("HOME", str(Path.home()))) / ".netrc")
    try:
        entries = netrc.netrc(str(netrc_path))
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False
    hosts = set(DEFAULT_WANDB_HOSTS)
    if env.get("WANDB_BASE_URL"):
        hosts.add(urlsplit(env["WANDB_BASE_URL"]).netloc)
    return any(entries.authenticators(host) for host in hosts if host)


def resolve_wandb_mode(mode: str, environ: Mapping[str, str] | None = None) -> str:
    """``auto`` -> ``WANDB_MODE`` if set, else online with credentials and offline (syncable) without."""
    if mode != "auto":
        return mode
    env = os.environ if environ is None else environ
    from_env = env.get("WANDB_MODE", "").strip().lower()
    if from_env in ("online", "offline", "disabled"):
        return from_env
    if from_env == "dryrun":
        return "offline"
    return "online" if has_wandb_credentials(env) else "offline"


def new_run_id() -> str:
    """An 8-character W&B-style id; ``secrets`` so the seeded ``random`` module is left untouched."""
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(8))


def resolve_run_id(resumed_id: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The W&B run id: the one a ``wandb agent`` assigned, else the resumed checkpoint's, else a new one."""
    env = os.environ if environ is None else environ
    return env.get("WANDB_RUN_ID") or resumed_id or new_run_id()
