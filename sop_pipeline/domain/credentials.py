"""The database credentials of a hosting: derived on the controller, pure, never logged.

The password must be the same on every run of step 8 for the same request: a re-run (after
a kill, a timeout, a change) converges with ``changed=0`` and the handed-over file stays
valid. So it is not drawn at random and kept somewhere, but derived: HMAC-SHA256 keyed with a
secret only the protected job holds (the pipeline's SSH private key, whose bytes never leave
the controller), over the request id, the engine and the database name. A new pipeline key
gives every hosting a new password on its next run, which the role applies and hands over.

Only letters and digits: the password reaches SQL inside quotes (role database), so it can
hold nothing SQL or a shell would read as syntax.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from sop_pipeline.domain.request import Database, Deployer

_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"  # no look-alikes
PASSWORD_LENGTH = 32  # 32 symbols of 57: 186 bits
#: Where a PHP or Python application reaches its database: the server itself, never the network.
PORTS = {"mariadb": 3306, "postgresql": 5432}
#: The handed-over file in the request's report folder (beside the Berita Acara).
CREDENTIALS_FILE = "kredensial-basis-data.age"


def database_password(secret: bytes, request_id: str, database: Database) -> str:
    """The hosting's database password, the same for the same secret, request and database."""
    if not secret:
        raise ValueError("the derivation secret is empty")
    message = "\0".join(("sop-database-password-v1", request_id, database.engine, database.name))
    number = int.from_bytes(hmac.new(secret, message.encode(), hashlib.sha256).digest(), "big")
    symbols = []
    for _ in range(PASSWORD_LENGTH):
        number, index = divmod(number, len(_ALPHABET))
        symbols.append(_ALPHABET[index])
    return "".join(symbols)


def credentials_text(request_id: str, fqdn: str, database: Database, password: str) -> str:
    """What the deployers decrypt: how the application reaches its database (Indonesian)."""
    port = PORTS[database.engine]
    return (
        f"# Kredensial basis data hosting {request_id} ({fqdn})\n"
        "# Rahasia: simpan di konfigurasi aplikasi, jangan dikirim lewat surel atau chat.\n"
        f"engine={database.engine}\n"
        f"host=127.0.0.1\n"
        f"port={port}\n"
        f"database={database.name}\n"
        f"user={database.name}\n"
        f"password={password}\n"
    )


@dataclass(frozen=True)
class Recipient:
    """Who can decrypt the handed-over credentials: a person and their key's fingerprint."""

    name: str
    nip: str
    key: str  # "type base64", canonical
    fingerprint: str  # SHA256:..., as ssh-keygen -l prints it


def recipients(deployers: tuple[Deployer, ...]) -> tuple[Recipient, ...]:
    """The credentials' recipients: the deployers (the request's PIC has no SSH key field, so
    the PIC receives the credentials through a deployer; docs/deploy.md)."""
    from sop_pipeline.domain.deploy_keys import parse_deploy_key

    found = []
    for deployer in deployers:
        key, rule, message = parse_deploy_key(deployer.ssh_public_key)
        if key is None:
            raise ValueError(f"{rule}: {message}")
        found.append(Recipient(deployer.name, deployer.nip, key.openssh, key.fingerprint))
    return tuple(found)
