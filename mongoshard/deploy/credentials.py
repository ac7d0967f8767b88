"""Generated secrets of a cluster: the internal keyfile and the admin password.

Both are files in the state directory, created once with owner-only modes
(keyfile 0400, password 0600) and never printed.  The keyfile doubles as the
password of MongoDB's internal ``__system`` user, which is how mongoshard
bootstraps a secured cluster (initiate, first user, addShard) without relying
on the localhost exception, the same way from a container and from the host.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import MongoshardError, remember_secret
from ..files import FileProblem, read_text

__all__ = ["Credentials", "CredentialsError", "ensure_credentials", "load_credentials", "admin_client_options", "ADMIN_USER"]

ADMIN_USER = "admin"
KEYFILE_NAME = "keyfile"
PASSWORD_NAME = "admin-password"
# 756 random bytes are 1008 base64 characters: MongoDB accepts 6 to 1024 (security_key.cpp).
_KEY_BYTES = 756
_KEY = re.compile(r"[A-Za-z0-9+/=]{6,1024}")
_MAX_SECRET_BYTES = 64 * 1024


class CredentialsError(MongoshardError):
    """The state directory's secrets are missing or unreadable."""


@dataclass(frozen=True)
class Credentials:
    """Where a cluster's secrets live; the values are read only when a connection needs them."""

    keyfile: Path
    password_file: Path

    @property
    def password(self) -> str:
        password = _read(self.password_file).strip()
        remember_secret(password)
        if not password:
            raise CredentialsError(f"{self.password_file} is empty; restore the admin password it held, "
                                   f"{_start_over(self.password_file)}")
        return password

    @property
    def internal_key(self) -> str:
        """The keyfile's key: its content without whitespace, as mongod reads it (security_file.cpp)."""
        key = "".join(_read(self.keyfile).split())
        remember_secret(key)
        if not _KEY.fullmatch(key):
            raise CredentialsError(f"{self.keyfile} is not a key mongod accepts (6 to 1024 base64 characters); restore "
                                   f"it, {_start_over(self.keyfile)}")
        return key

    def check(self) -> None:
        """Read both secrets now, so that a damaged one stops a command before it starts anything."""
        _ = self.password, self.internal_key

    def admin_options(self) -> dict[str, str]:
        """pymongo options that log in as the cluster's admin user."""
        return {"username": ADMIN_USER, "password": self.password, "authSource": "admin"}

    def internal_options(self) -> dict[str, str]:
        """pymongo options that log in as ``__system``: only for bootstrapping."""
        return {"username": "__system", "password": self.internal_key, "authSource": "local",
                "authMechanism": "SCRAM-SHA-256"}


def ensure_credentials(state_dir: str | Path) -> Credentials:
    """The state directory's secrets, generating whichever is missing; existing ones are kept.

    A secret missing beside the data of a cluster that already uses it is an
    error: a new one would lock everybody out of that cluster.
    """
    from .state import has_cluster_data, record_created

    directory = Path(state_dir)
    credentials = Credentials(directory / KEYFILE_NAME, directory / PASSWORD_NAME)
    if has_cluster_data(directory):
        lost = [path for path in (credentials.password_file, credentials.keyfile) if not path.exists()]
        if lost:
            raise CredentialsError(f"{lost[0]} is missing, but the cluster in {directory / 'data'} was set up with it; "
                                   "restore the file, or start over with 'mongoshard down --purge' (which deletes that data)")
    if credentials.keyfile.exists() or credentials.keyfile.is_symlink():
        _ = credentials.internal_key  # a damaged secret stops here, before anything else is created
    if credentials.password_file.exists() or credentials.password_file.is_symlink():
        _ = credentials.password
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    for path, content, mode in ((credentials.keyfile, base64.b64encode(secrets.token_bytes(_KEY_BYTES)).decode() + "\n", 0o400),
                                (credentials.password_file, secrets.token_urlsafe(24) + "\n", 0o600)):
        if not path.exists() and not path.is_symlink():
            record_created(directory, path.name)
        _create_once(path, content, mode)
    credentials.check()
    return credentials


def load_credentials(state_dir: str | Path) -> Credentials | None:
    """The secrets of an existing state directory, or None for a cluster without authentication."""
    directory = Path(state_dir)
    credentials = Credentials(directory / KEYFILE_NAME, directory / PASSWORD_NAME)
    return credentials if credentials.keyfile.exists() and credentials.password_file.exists() else None


def admin_client_options(state_dir: str | Path, *, required: bool = False) -> dict[str, Any]:
    """pymongo options for the admin user of the cluster in ``state_dir`` (empty without auth).

    With ``required`` (the topology has auth on), missing secrets are an error naming the file, not an anonymous login.
    """
    credentials = load_credentials(state_dir)
    if credentials is None and required:
        raise CredentialsError(f"{Path(state_dir) / PASSWORD_NAME} does not exist, so mongoshard cannot log in as admin; "
                               "start the cluster with 'mongoshard up' (which creates it), restore it, or pass --uri")
    return credentials.admin_options() if credentials else {}


def _create_once(path: Path, content: str, mode: int) -> None:
    # O_EXCL with the final mode: the secret is never readable by others, not even for an instant.
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        return
    with os.fdopen(descriptor, "w") as handle:
        handle.write(content)
    os.chmod(path, mode)  # the umask may have removed bits the mode asked for; never adds any


def _start_over(secret: Path) -> str:
    """The way out of a damaged secret: purge only deletes what mongoshard created (state.py)."""
    from .state import is_created

    if is_created(secret.parent, secret.name):
        return "or start over with 'mongoshard down --purge' (which deletes the cluster's data)"
    return "or, as mongoshard did not create it, remove it yourself (a new one is generated)"


def _read(path: Path) -> str:
    try:
        return read_text(path, "the secret", hint="run 'mongoshard init' or 'mongoshard up' to create it",
                         limit=_MAX_SECRET_BYTES)
    except FileProblem as exc:
        raise CredentialsError(str(exc)) from None
