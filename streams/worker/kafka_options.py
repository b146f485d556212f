"""Kafka connection security: read from KAFKA_* variables once, checked, and turned into
options for every client (worker, command-line tools, admin) by one builder.

An incomplete or contradictory setting fails at start with a message naming the variable:
a client never falls back to plaintext because a value was missing or misspelt.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streams.worker.settings import Settings

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")

#: the variables this module reads, in the order the README lists them
VARIABLES = (
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    "KAFKA_SSL_CAFILE",
    "KAFKA_SSL_CERTFILE",
    "KAFKA_SSL_KEYFILE",
)


class KafkaSecurityError(ValueError):
    """A KAFKA_* security setting is incomplete or contradictory; the message says which."""


@dataclass(frozen=True)
class KafkaSecurity:
    """Checked security settings; `repr` never shows the password."""

    protocol: str = "PLAINTEXT"
    mechanism: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    cafile: str | None = None
    certfile: str | None = None
    keyfile: str | None = None

    @property
    def uses_sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.protocol.endswith("SSL")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> KafkaSecurity:
        def get(name: str) -> str | None:
            value = env.get(name)
            return value if value else None

        protocol = (get("KAFKA_SECURITY_PROTOCOL") or "PLAINTEXT").upper()
        if protocol not in PROTOCOLS:
            raise KafkaSecurityError(
                f"KAFKA_SECURITY_PROTOCOL={env['KAFKA_SECURITY_PROTOCOL']!r} is not one of "
                f"{', '.join(PROTOCOLS)}"
            )
        raw_mechanism = get("KAFKA_SASL_MECHANISM")
        mechanism = raw_mechanism.upper() if raw_mechanism else None
        security = cls(
            protocol=protocol,
            mechanism=mechanism,
            username=get("KAFKA_SASL_USERNAME"),
            password=get("KAFKA_SASL_PASSWORD"),
            cafile=get("KAFKA_SSL_CAFILE"),
            certfile=get("KAFKA_SSL_CERTFILE"),
            keyfile=get("KAFKA_SSL_KEYFILE"),
        )
        security.check()
        return security

    def check(self) -> None:
        """Refuse every combination that would connect differently from what was asked."""
        self._check_sasl()
        self._check_tls()

    def _check_sasl(self) -> None:
        given = [
            name
            for name, value in (
                ("KAFKA_SASL_MECHANISM", self.mechanism),
                ("KAFKA_SASL_USERNAME", self.username),
                ("KAFKA_SASL_PASSWORD", self.password),
            )
            if value is not None
        ]
        if not self.uses_sasl:
            if given:
                raise KafkaSecurityError(
                    f"{given[0]} is set but KAFKA_SECURITY_PROTOCOL={self.protocol} does not "
                    "use SASL; set KAFKA_SECURITY_PROTOCOL=SASL_SSL (or SASL_PLAINTEXT)"
                )
            return
        if self.mechanism is None:
            raise KafkaSecurityError(
                f"KAFKA_SECURITY_PROTOCOL={self.protocol} needs KAFKA_SASL_MECHANISM "
                f"({', '.join(MECHANISMS)})"
            )
        if self.mechanism not in MECHANISMS:
            raise KafkaSecurityError(
                f"KAFKA_SASL_MECHANISM={self.mechanism!r} is not one of {', '.join(MECHANISMS)}"
            )
        for name, value in (
            ("KAFKA_SASL_USERNAME", self.username),
            ("KAFKA_SASL_PASSWORD", self.password),
        ):
            if value is None:
                raise KafkaSecurityError(
                    f"KAFKA_SASL_MECHANISM={self.mechanism} needs {name}; it is empty"
                )

    def _check_tls(self) -> None:
        files = [
            (name, value)
            for name, value in (
                ("KAFKA_SSL_CAFILE", self.cafile),
                ("KAFKA_SSL_CERTFILE", self.certfile),
                ("KAFKA_SSL_KEYFILE", self.keyfile),
            )
            if value is not None
        ]
        if files and not self.uses_tls:
            raise KafkaSecurityError(
                f"{files[0][0]} is set but KAFKA_SECURITY_PROTOCOL={self.protocol} does not "
                "use TLS; set KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL"
            )
        if (self.certfile is None) != (self.keyfile is None):
            raise KafkaSecurityError(
                "KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE go together (a client certificate "
                "needs its key); set both or neither"
            )
        for name, value in files:
            if not Path(value).is_file():
                raise KafkaSecurityError(f"{name}={value!r}: no such file")
        if files:
            try:
                self.ssl_context()
            except (ssl.SSLError, OSError) as exc:
                names = ", ".join(f"{name}={value!r}" for name, value in files)
                raise KafkaSecurityError(
                    f"{names}: cannot be loaded as PEM certificates and key ({exc})"
                ) from None

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context, or None for a protocol without TLS.

        Without KAFKA_SSL_CAFILE the system's trusted CAs verify the broker.
        """
        if not self.uses_tls:
            return None
        context = ssl.create_default_context(cafile=self.cafile)
        if self.certfile is not None:
            context.load_cert_chain(self.certfile, self.keyfile)
        return context


def kafka_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for any aiokafka client (producer, consumer, admin)."""
    security = settings.kafka_security
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": security.protocol,
    }
    if security.uses_tls:
        options["ssl_context"] = security.ssl_context()
    if security.uses_sasl:
        options["sasl_mechanism"] = security.mechanism
        options["sasl_plain_username"] = security.username
        options["sasl_plain_password"] = security.password
    return options


def faust_credentials(security: KafkaSecurity) -> Any:
    """The same settings as Faust credentials (None for plaintext).

    Faust derives SASL_SSL from the presence of a TLS context, which `ssl_context` gives
    exactly for the TLS protocols, so both paths connect the same way.
    """
    import faust  # the command-line tools use this module without loading Faust

    if security.uses_sasl:
        return faust.SASLCredentials(
            username=security.username,
            password=security.password,
            mechanism=security.mechanism,
            ssl_context=security.ssl_context(),
        )
    if security.uses_tls:
        return faust.SSLCredentials(security.ssl_context())
    return None


async def refusal(settings: Settings, timeout: float = 15.0) -> str | None:
    """Why the first broker refuses this client, when credentials or TLS are the cause
    (`diagnose`): retrying cannot mend it."""
    return (await diagnose(settings, timeout))[0]


async def diagnose(settings: Settings, timeout: float = 15.0) -> tuple[str | None, str | None]:
    """What one direct connection to the first broker tells: (a refusal, a hint).

    aiokafka reports a refused password or an untrusted certificate as "unable to
    bootstrap", the same as a broker that is down; so it does a host name that does not
    resolve and a listener that hangs up at once, as a PLAINTEXT one does to TLS (and a TLS
    one to plain requests). The refusal says what to fix rather than a retry loop; the hint
    (a sentence) says more than "is it running?" while the caller waits on: DNS catches up
    (a Kubernetes service before its pods are ready).
    """
    from aiokafka.conn import create_conn
    from aiokafka.errors import SaslAuthenticationFailed

    first = settings.kafka_bootstrap.split(",")[0].strip()
    host, _, port = first.rpartition(":")
    security = settings.kafka_security
    options = kafka_options(settings)
    options.pop("bootstrap_servers")
    try:
        conn = await asyncio.wait_for(create_conn(host, int(port), **options), timeout)
    except SaslAuthenticationFailed as exc:
        return (
            f"authentication failed at {first} as user {security.username!r} "
            f"({security.mechanism}): check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD ({exc})"
        ), None
    except ssl.SSLCertVerificationError as exc:
        where = security.cafile or "the system's trusted CAs"
        return (
            f"the TLS certificate of {first} is not trusted by {where}: set KAFKA_SSL_CAFILE "
            f"to the CA that signed it ({exc.verify_message})"
        ), None
    except socket.gaierror as exc:
        return None, f"The host {host!r} of KAFKA_BOOTSTRAP does not resolve ({exc.strerror})."
    except (ConnectionResetError, ssl.SSLError, EOFError):
        return None, (
            f"Something listens at {first} but hangs up at once: is that listener's "
            f"protocol KAFKA_SECURITY_PROTOCOL={security.protocol}?"
        )
    except Exception:
        return None, None  # down or unreachable: the caller's own message says so
    conn.close()
    return None, None
