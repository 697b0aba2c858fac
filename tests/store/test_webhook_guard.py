"""Webhooks go to public addresses and to the internal ones an administrator allows (SSRF).

The receiver is ``http.server`` on 127.0.0.1 (the ``webhook`` fixture of
``test_subscriptions``); host names are resolved by a stand-in resolver so that a name can
point somewhere else when an area is followed and when the webhook is sent (DNS rebinding).
"""

from __future__ import annotations

import urllib.request
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from geo.errors import ConfigError, SchemaError
from geo.i18n import Translator
from geo.message import localize
from geo.store import deliver_pending, list_subscriptions, subscribe, webhook_guard
from geo.store import tables as t
from geo.store.engine import read_tx
from geo.store.webhook_guard import WebhookPolicy, WebhookRefusedError, check_webhook_target
from tests.store.test_subscriptions import AREA, INSIDE, _merge

PUBLIC = WebhookPolicy()


@pytest.mark.parametrize("address", [
    "169.254.169.254", "127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1", "10.1.2.3",
    "172.16.0.9", "192.168.1.1", "100.64.0.1", "0.0.0.0", "::", "fe80::1%eth0", "fd00::1",
    "224.0.0.251", "240.0.0.1", "255.255.255.255",
])
def test_internal_addresses_are_refused_by_default(address):
    assert PUBLIC.refusal(address, host=address) is not None


@pytest.mark.parametrize("address", ["8.8.8.8", "200.48.225.130", "2001:4860:4860::8888"])
def test_public_addresses_are_allowed(address):
    assert PUBLIC.refusal(address, host=address) is None


def test_the_administrator_allows_networks_and_names():
    policy = WebhookPolicy.from_env({"ATALAYA_WEBHOOK_ALLOW": "10.20.0.0/16; fd00::/8, Chat.Lan"})
    assert policy.refusal("10.20.3.4", host="10.20.3.4") is None
    assert policy.refusal("fd00::5", host="fd00::5") is None
    assert policy.refusal("10.21.0.1", host="10.21.0.1") == "10.21.0.1 is a private address"
    assert policy.refusal("169.254.169.254", host="chat.lan.") is None  # the name is trusted
    assert policy.refusal("169.254.169.254", host="other.lan") is not None


@pytest.mark.parametrize("value", ["10.0.0.0/33", "http://chat.lan", "chat lan", "a/b"])
def test_a_bad_allow_entry_is_a_config_error(value):
    with pytest.raises(ConfigError, match="ATALAYA_WEBHOOK_ALLOW"):
        WebhookPolicy.from_env({"ATALAYA_WEBHOOK_ALLOW": value})


@given(st.ip_addresses())
def test_an_address_passes_exactly_when_it_is_global_unicast(ip):
    """Property: with nothing allowed, only global unicast addresses pass (v4, v6, mapped).

    Reserved blocks that Python counts as global (``::2`` is in ``::/8``) are refused too.
    """
    plain = ip.ipv4_mapped if getattr(ip, "ipv4_mapped", None) else ip
    expected = plain.is_global and not (plain.is_multicast or plain.is_reserved)
    assert (PUBLIC.refusal(str(ip), host=str(ip)) is None) == expected


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://127.0.0.1:8501/",  # the app itself
    "http://[::1]/x",
    "http://[::ffff:127.0.0.1]/x",
    "http://2130706433/",  # 127.0.0.1 written as one number
    "http://0x7f.1/",  # and in hexadecimal
    "https://192.168.0.1/hook",
    "http://localhost:5432/",
])
def test_following_with_an_internal_webhook_is_refused(store, monkeypatch, url):
    monkeypatch.delenv("ATALAYA_WEBHOOK_ALLOW", raising=False)
    with pytest.raises(WebhookRefusedError) as caught:
        subscribe(store, user="campo", area_name="VRAEM", geometry=AREA, webhook_url=url)
    assert "ATALAYA_WEBHOOK_ALLOW" in str(caught.value)
    assert list_subscriptions(store) == []


def test_the_refusal_is_written_in_the_readers_language(store, monkeypatch):
    monkeypatch.delenv("ATALAYA_WEBHOOK_ALLOW", raising=False)
    with pytest.raises(SchemaError) as caught:
        subscribe(store, user="campo", area_name="VRAEM", geometry=AREA,
                  webhook_url="http://169.254.169.254/")
    text = localize(caught.value, Translator("es"))
    assert text.startswith("El servidor no envía webhooks a 169.254.169.254: ")
    assert "es una dirección de enlace local" in text


def test_a_name_that_does_not_resolve_yet_is_kept_for_the_send_time_check():
    def nowhere(host: str, port: int) -> list[str]:
        raise OSError("no DNS here")
    check_webhook_target("https://hooks.example.org/x", PUBLIC, resolver=nowhere)


def _rebinding(monkeypatch, answers: list[list[str]]) -> list[tuple[str, int]]:
    """Resolve every name with the next of ``answers`` (the last one repeats); log the asks."""
    asked: list[tuple[str, int]] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return answers[min(len(asked), len(answers)) - 1]
    monkeypatch.setattr(webhook_guard, "resolve", resolver)
    return asked


def _last_error(store) -> Any:
    with read_tx(store) as conn:
        return conn.execute(select(t.deliveries.c.status, t.deliveries.c.last_error)).one()


def test_a_name_rebound_to_loopback_after_following_is_not_called(store, webhook, monkeypatch):
    """Public when the area is followed, 127.0.0.1 when the webhook goes: nothing is sent."""
    url, receiver = webhook
    monkeypatch.delenv("ATALAYA_WEBHOOK_ALLOW")
    port = url.split(":")[2].split("/")[0]
    asked = _rebinding(monkeypatch, [["93.184.216.34"], ["127.0.0.1"]])
    subscribe(store, user="Ana", area_name="VRAEM", geometry=AREA,
              webhook_url=f"http://hooks.rebind.test:{port}/hook")
    _merge(store, INSIDE)
    report = deliver_pending(store, smtp=None, http_timeout=5)
    assert report.failed
    assert not report.sent
    assert receiver.received == []
    status, error = _last_error(store)
    assert status == "failed"
    assert "127.0.0.1 is a loopback address" in error
    assert [host for host, _ in asked] == ["hooks.rebind.test"] * 2


def test_an_allowed_name_is_called_at_the_address_that_was_checked(store, webhook, monkeypatch):
    """The connection goes to the resolved, checked address (not a second lookup by urllib)."""
    url, receiver = webhook
    monkeypatch.setenv("ATALAYA_WEBHOOK_ALLOW", "hooks.intranet")
    port = url.split(":")[2].split("/")[0]
    _rebinding(monkeypatch, [["127.0.0.1"]])  # the real DNS knows no hooks.intranet
    subscribe(store, user="Ana", area_name="VRAEM", geometry=AREA,
              webhook_url=f"http://hooks.intranet:{port}/hook")
    _merge(store, INSIDE)
    report = deliver_pending(store, smtp=None, http_timeout=5)
    assert len(report.sent) == 1
    assert len(receiver.received) == 1
    headers, _, path = receiver.received[0]
    assert path == "/hook"
    assert headers["Host"] == f"hooks.intranet:{port}"


def test_the_proxy_variables_do_not_carry_webhooks(store, webhook, monkeypatch):
    """A proxy would connect to the receiver on the server's behalf, past the check."""
    url, receiver = webhook
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    subscribe(store, user="Ana", area_name="VRAEM", geometry=AREA, webhook_url=url)
    _merge(store, INSIDE)
    assert len(deliver_pending(store, smtp=None, http_timeout=5).sent) == 1
    assert len(receiver.received) == 1


def test_the_same_area_and_addresses_are_followed_once(store):
    kwargs: dict[str, Any] = {"user": "campo", "area_name": "VRAEM", "geometry": AREA,
                              "email": "campo@example.org"}
    subscribe(store, **kwargs)
    with pytest.raises(SchemaError, match="already follow VRAEM"):
        subscribe(store, **kwargs)
    subscribe(store, **{**kwargs, "email": "jefe@example.org"})  # another address: fine
    subscribe(store, **{**kwargs, "user": "ana"})  # another follower: fine
    assert len(list_subscriptions(store)) == 3


@pytest.mark.parametrize("url", ["https://localhost:1/hook", "http://[::1]:1/", "https://10.0.0.1/"])
def test_the_opener_refuses_before_connecting_over_http_and_https(url):
    opener = webhook_guard.guarded_opener(PUBLIC)
    with pytest.raises(WebhookRefusedError, match=r"is a (loopback|private) address"):
        opener.open(urllib.request.Request(url, data=b"{}"), timeout=2)
