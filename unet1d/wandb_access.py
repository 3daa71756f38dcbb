"""Whether and how a process reaches W&B: credentials, the mode ``auto`` resolves to, whether the
server answers, run ids.

In the bottom layer because training (its trackers), sweeps (run ids for local runs) and compare
(the W&B report) all ask it; none of them should import another to find out. Reads the
environment, ~/.netrc and W&B's settings file only to learn that a key exists and for which server;
never a key's value.
"""

from __future__ import annotations

import configparser
import netrc
import os
import secrets
import socket
import string
import threading
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_WANDB_URL = "https://api.wandb.ai"
DEFAULT_WANDB_HOSTS = ("api.wandb.ai",)
SERVER_CONNECT_TIMEOUT_S = 5.0  # how long a run waits for the W&B server to take a connection


def _home(env: Mapping[str, str]) -> Path:
    return Path(env.get("HOME", str(Path.home())))


def configured_base_url(environ: Mapping[str, str] | None = None) -> str | None:
    """The server ``wandb login --host URL`` recorded: ``base_url`` in W&B's global settings file
    (``$WANDB_CONFIG_DIR/settings``, else ``~/.config/wandb/settings``); None when there is none."""
    env = os.environ if environ is None else environ
    folder = Path(env["WANDB_CONFIG_DIR"]) if env.get("WANDB_CONFIG_DIR") else _home(env) / ".config" / "wandb"
    parser = configparser.ConfigParser()
    try:
        parser.read(folder / "settings")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return None
    return parser.get("default", "base_url", fallback=None) or None


def wandb_base_url(environ: Mapping[str, str] | None = None) -> str:
    """The W&B server this environment talks to: ``WANDB_BASE_URL``, else the one ``wandb login --host``
    recorded, else W&B's own."""
    env = os.environ if environ is None else environ
    return env.get("WANDB_BASE_URL", "").strip() or configured_base_url(env) or DEFAULT_WANDB_URL


def has_wandb_credentials(environ: Mapping[str, str] | None = None) -> bool:
    """True when W&B could authenticate: ``WANDB_API_KEY`` or a netrc entry for the W&B host
    (W&B's own, ``WANDB_BASE_URL``'s, or the one ``wandb login --host`` recorded, as a self-hosted
    server's users have).

    Only checks that a key exists; whether it is valid is learnt (and survived) at ``wandb.init``.
    """
    env = os.environ if environ is None else environ
    if env.get("WANDB_API_KEY", "").strip():
        return True
    netrc_path = Path(env.get("NETRC") or _home(env) / ".netrc")
    try:
        entries = netrc.netrc(str(netrc_path))
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False
    hosts = set(DEFAULT_WANDB_HOSTS)
    for url in (env.get("WANDB_BASE_URL"), configured_base_url(env)):
        if url:
            hosts |= {urlsplit(url).netloc, urlsplit(url).hostname}
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


def server_address(url: str) -> str:
    """``scheme://host[:port]`` of a W&B base URL: what a message may name (no user, password or path)."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def unreachable_reason(url: str, timeout_s: float = SERVER_CONNECT_TIMEOUT_S) -> str | None:
    """Why the server at ``url`` takes no TCP connection within ``timeout_s`` (name lookup included);
    None when it does, or when ``url`` names no host.

    ``wandb.init`` retries a server it cannot reach until its init timeout (90 s), after some
    10 s of login retries: a run on a node with no route out would wait ~100 s for its first step,
    each time. A connection says as much in at most ``timeout_s``. Where the environment routes the
    URL through a proxy (``HTTPS_PROXY``, ``NO_PROXY``), the proxy is what must answer.
    """
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    if not host:
        return None
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        proxy_parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        host, port = proxy_parts.hostname, proxy_parts.port or (443 if proxy_parts.scheme == "https" else 80)
    outcome: list[str | None] = []

    def connect() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout_s).close()
            outcome.append(None)
        except OSError as err:  # refused, no route, unknown name, timed out
            outcome.append(err.strerror or str(err) or type(err).__name__)

    # A thread, because a name lookup takes no timeout of its own; a daemon, so a stuck one never holds the run.
    attempt = threading.Thread(target=connect, name="wandb-server-probe", daemon=True)
    attempt.start()
    attempt.join(timeout_s)
    return outcome[0] if outcome else f"no connection within {timeout_s:g} s"


def new_run_id() -> str:
    """An 8-character W&B-style id; ``secrets`` so the seeded ``random`` module is left untouched."""
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(8))


def resolve_run_id(resumed_id: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The W&B run id: the one a ``wandb agent`` assigned, else the resumed checkpoint's, else a new one."""
    env = os.environ if environ is None else environ
    return env.get("WANDB_RUN_ID") or resumed_id or new_run_id()
