"""Where the server may POST a webhook: public addresses, and the networks an administrator allows.

A webhook URL is typed by a signed-in user (any role that follows areas) and the server POSTs to
it, so without a check any user can make the server call what only the server can reach: the
cloud metadata service (``169.254.169.254``), services on loopback, the internal network
(server-side request forgery). :class:`WebhookPolicy` decides, address by address:

- a *global* (public) unicast address is allowed;
- loopback, link-local, private (RFC 1918, ``fc00::/7``), shared (``100.64.0.0/10``),
  unspecified, multicast and reserved addresses are refused, unless the administrator allows
  them in ``ATALAYA_WEBHOOK_ALLOW``: a comma-separated list of networks (``10.20.0.0/16``),
  addresses (``10.20.3.4``) and host names (``chat.intranet``, allowed whatever they resolve
  to). An air-gapped deployment names its chat server or relay there.

The check runs twice: when a user follows an area (an address written in the URL, or a name
that resolves then) and when a webhook is sent, where the connection goes to the very address
that was checked (:func:`guarded_opener`), so a name that resolves to a public address when it
is saved and to an internal one later (DNS rebinding) is still refused. Webhooks ignore the
``http_proxy`` variables: the server connects to the receiver itself.

Examples
--------
>>> policy = WebhookPolicy.from_env({"ATALAYA_WEBHOOK_ALLOW": "10.20.0.0/16, chat.intranet"})
>>> policy.refusal("169.254.169.254", host="169.254.169.254")
'169.254.169.254 is a link-local address'
>>> policy.refusal("10.20.3.4", host="10.20.3.4") is None
True
>>> policy.refusal("127.0.0.1", host="chat.intranet") is None
True
"""

from __future__ import annotations

import http.client
import ipaddress
import os
import socket
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from geo.errors import ConfigError, SchemaError
from geo.i18n import marked as _
from geo.message import Message

__all__ = ["WebhookPolicy", "WebhookRefusedError", "check_webhook_target", "guarded_opener"]

ENV = "ATALAYA_WEBHOOK_ALLOW"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)


class WebhookRefusedError(SchemaError):
    """A webhook's host is (or resolves to) an address the policy does not allow."""


@dataclass(frozen=True)
class WebhookPolicy:
    """Networks and host names allowed beyond the public internet (see the module notes)."""

    networks: tuple[Network, ...] = ()
    hosts: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WebhookPolicy:
        """Read ``ATALAYA_WEBHOOK_ALLOW`` (unset: public addresses only).

        Raises
        ------
        ConfigError
            An entry that is neither a network, an address nor a host name.

        Examples
        --------
        >>> WebhookPolicy.from_env({})
        WebhookPolicy(networks=(), hosts=frozenset())
        >>> WebhookPolicy.from_env({"ATALAYA_WEBHOOK_ALLOW": "Chat.Intranet., 127.0.0.1"})
        WebhookPolicy(networks=(IPv4Network('127.0.0.1/32'),), hosts=frozenset({'chat.intranet'}))
        >>> WebhookPolicy.from_env({"ATALAYA_WEBHOOK_ALLOW": "10.0.0.0/33"})
        Traceback (most recent call last):
        ...
        geo.errors.ConfigError: ATALAYA_WEBHOOK_ALLOW: '10.0.0.0/33' is not a network, an ...
        """
        env = os.environ if environ is None else environ
        networks: list[Network] = []
        hosts: set[str] = set()
        for entry in env.get(ENV, "").replace(";", ",").split(","):
            item = entry.strip()
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
                continue
            except ValueError:
                pass
            name = item.lower().rstrip(".")
            if "/" in name or not _is_host_name(name):
                raise ConfigError(f"{ENV}: {item!r} is not a network, an address or a host "
                                  "name (example: 10.20.0.0/16, chat.intranet)")
            hosts.add(name)
        return cls(networks=tuple(networks), hosts=frozenset(hosts))

    def refusal(self, address: str, *, host: str) -> Message | None:
        """Why the server may not connect to ``address`` for a URL naming ``host``; None: it may.

        ``address`` is an IP address (v4 or v6, as ``getaddrinfo`` gives it).
        """
        if host.lower().rstrip(".") in self.hosts:
            return None
        ip = _address(address)
        if any(ip in net for net in self.networks if net.version == ip.version):
            return None
        kind = _kind(ip)
        return None if kind is None else Message("{address} is a {kind} address",
                                                 address=str(ip), kind=Message(kind))


def _is_host_name(name: str) -> bool:
    labels = name.split(".")
    return 0 < len(name) <= 253 and all(
        0 < len(label) <= 63 and label.replace("-", "").isalnum() and label.isascii()
        and not label.startswith("-") and not label.endswith("-") for label in labels)


def _address(text: str) -> Address:
    ip = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone (fe80::1%eth0)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return ip


def _kind(ip: Address) -> str | None:
    """Name the kind of a non-public address (None: a global unicast address)."""
    checks = ((_("loopback"), ip.is_loopback), (_("link-local"), ip.is_link_local),
              (_("unspecified"), ip.is_unspecified), (_("multicast"), ip.is_multicast),
              (_("private"), ip.is_private),
              (_("shared (carrier NAT)"), ip in _SHARED),
              (_("reserved"), ip.is_reserved or not ip.is_global))
    return next((name for name, hit in checks if hit), None)


def _literal(host: str) -> bool:
    try:
        _address(host)
    except ValueError:
        return False
    return True


Resolver = Callable[[str, int], list[str]]


def resolve(host: str, port: int) -> list[str]:
    """Return what ``host`` resolves to, in ``getaddrinfo`` order (or raise ``socket.gaierror``)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_webhook_target(url: str, policy: WebhookPolicy, *,
                         resolver: Resolver | None = None) -> None:
    """Refuse a webhook URL whose host is, or now resolves to, an address ``policy`` refuses.

    A host name that does not resolve here (yet) is let through: it is checked again, address
    by address, when a webhook is sent.

    Raises
    ------
    WebhookRefusedError
        With a :class:`~geo.message.Message` that names the address and the setting.
    """
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if host.lower().rstrip(".") in policy.hosts:
        return
    try:
        addresses = [host] if _literal(host) else (resolver or resolve)(
            host, parts.port or (443 if parts.scheme == "https" else 80))
    except (OSError, UnicodeError):
        return
    for address in addresses:
        why = policy.refusal(address, host=host)
        if why is not None:
            raise WebhookRefusedError(_refused(host, why))


def _refused(host: str, why: str | Message) -> Message:
    return Message("The server does not send webhooks to {host}: {why}. An administrator can "
                   "allow internal receivers with ATALAYA_WEBHOOK_ALLOW.", host=host, why=why)


def _connector(policy: WebhookPolicy, host: str, resolver: Resolver | None
               ) -> Callable[..., Any]:
    """Make a ``socket.create_connection`` that connects only to addresses ``policy`` allows."""

    def create_connection(address: tuple[str, int], timeout: Any = None,
                          source_address: Any = None, **kwargs: Any) -> socket.socket:
        name, port = address
        addresses = [name] if _literal(name) else (resolver or resolve)(name, port)
        allowed = [a for a in addresses if policy.refusal(a, host=host) is None]
        if not allowed:
            why = policy.refusal(addresses[0], host=host) if addresses else None
            raise WebhookRefusedError(_refused(host, why or "no address"))
        error: OSError | None = None
        for ip in allowed:
            try:
                return socket.create_connection((ip, port), timeout, source_address)
            except OSError as exc:
                error = exc
        assert error is not None
        raise error
    return create_connection


def _guarded(cls: type[http.client.HTTPConnection], policy: WebhookPolicy,
             resolver: Resolver | None) -> Callable[..., http.client.HTTPConnection]:
    """Make connections of ``cls`` that reach their host only through :func:`_connector`.

    ``HTTPSConnection.connect`` opens the socket this way too, then checks the certificate
    against the host name of the URL.
    """
    def factory(host: str, **kwargs: Any) -> http.client.HTTPConnection:
        conn = cls(host, **kwargs)
        conn._create_connection = _connector(policy, conn.host, resolver)  # type: ignore[attr-defined]
        return conn
    return factory


def guarded_opener(policy: WebhookPolicy, *, resolver: Resolver | None = None,
                   extra: tuple[urllib.request.BaseHandler, ...] = ()
                   ) -> urllib.request.OpenerDirector:
    """Build a urllib opener that connects only where ``policy`` allows, directly (no proxy).

    ``resolver`` (default :func:`resolve`, looked up at each connection) gives a host name's
    addresses; ``extra`` handlers are added (the caller's redirect policy).
    """
    http_factory = _guarded(http.client.HTTPConnection, policy, resolver)
    https_factory = _guarded(http.client.HTTPSConnection, policy, resolver)

    class Http(urllib.request.HTTPHandler):
        def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(http_factory, req)

    class Https(urllib.request.HTTPSHandler):
        def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(https_factory, req)

    return urllib.request.build_opener(urllib.request.ProxyHandler({}), Http(), Https(), *extra)
