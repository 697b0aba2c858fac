"""Lockout delays, session time-outs, OIDC group roles and their settings."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geo.auth import (
    LockoutPolicy,
    Role,
    Session,
    SessionPolicy,
    parse_group_roles,
    require_role_for_groups,
    role_for_groups,
)
from geo.errors import AuthError, ConfigError
from geo.settings import load_settings

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def test_lockout_delay_grows_and_is_capped():
    policy = LockoutPolicy()
    assert [policy.delay_s(n) for n in range(0, 5)] == [0.0] * 5
    assert [policy.delay_s(n) for n in range(5, 12)] == [30, 60, 120, 240, 480, 900, 900]
    assert policy.delay_s(10**9) == 900.0
    assert policy.locked_until(4, T0) is None
    assert policy.locked_until(5, T0) == T0 + timedelta(seconds=30)


@given(st.integers(min_value=0, max_value=10**6))
def test_lockout_delay_is_never_permanent(failures):
    assert 0 <= LockoutPolicy().delay_s(failures) <= 900


@pytest.mark.parametrize("kw", [{"max_failures": 0}, {"base_delay_s": 0},
                                {"base_delay_s": 60, "max_delay_s": 30}], ids=str)
def test_unusable_lockout_policies_are_refused(kw):
    with pytest.raises(ConfigError):
        LockoutPolicy(**kw)


def test_idle_timeout():
    policy = SessionPolicy(idle_timeout_min=30)
    assert not policy.is_expired(T0, T0)
    assert not policy.is_expired(T0, T0 + timedelta(minutes=29, seconds=59))
    assert policy.is_expired(T0, T0 + timedelta(minutes=30))
    assert not policy.is_expired(T0, T0 - timedelta(minutes=5))  # a clock step back
    assert policy.expires_at(T0) == T0 + timedelta(minutes=30)


def test_absolute_session_limit():
    policy = SessionPolicy(idle_timeout_min=30, max_session_h=12)
    signed_in = T0
    busy = T0 + timedelta(hours=11, minutes=59)
    assert not policy.is_expired(busy, busy + timedelta(seconds=30), signed_in_at=signed_in)
    assert policy.is_expired(busy, T0 + timedelta(hours=12), signed_in_at=signed_in)
    unlimited = SessionPolicy(max_session_h=None)
    assert not unlimited.is_expired(busy, busy + timedelta(minutes=1), signed_in_at=signed_in)


@pytest.mark.parametrize("kw", [{"idle_timeout_min": 0}, {"idle_timeout_min": -1},
                                {"max_session_h": 0}], ids=str)
def test_unusable_session_policies_are_refused(kw):
    with pytest.raises(ConfigError):
        SessionPolicy(**kw)


def test_session_settings_from_the_environment():
    default = load_settings({})
    assert (default.idle_timeout_min, default.session_max_h, default.oidc_group_roles) == (
        30.0, 12.0, ())
    custom = load_settings({"ATALAYA_IDLE_TIMEOUT_MIN": "15", "ATALAYA_SESSION_MAX_H": "0",
                            "ATALAYA_OIDC_GROUP_ROLES": "ops=admin, gis=analyst"})
    assert custom.idle_timeout_min == 15.0
    assert custom.session_max_h is None
    assert custom.oidc_group_roles == (("ops", Role.ADMIN), ("gis", Role.ANALYST))
    policy = SessionPolicy.from_settings(custom)
    assert policy == SessionPolicy(idle_timeout_min=15.0, max_session_h=None)


@pytest.mark.parametrize("env", [
    {"ATALAYA_IDLE_TIMEOUT_MIN": "0"}, {"ATALAYA_IDLE_TIMEOUT_MIN": "half an hour"},
    {"ATALAYA_IDLE_TIMEOUT_MIN": "-5"}, {"ATALAYA_IDLE_TIMEOUT_MIN": "nan"},
    {"ATALAYA_SESSION_MAX_H": "inf"}, {"ATALAYA_OIDC_GROUP_ROLES": "ops=boss"},
], ids=str)
def test_bad_session_settings_are_refused(env):
    with pytest.raises(ConfigError, match=next(iter(env))):
        load_settings(env)


def test_group_roles():
    mapping = parse_group_roles("grp-a=analyst,grp-b=field, ,grp-c = Admin")
    assert mapping == (("grp-a", Role.ANALYST), ("grp-b", Role.FIELD), ("grp-c", Role.ADMIN))
    assert parse_group_roles("") == ()
    # The first mapping that matches wins: the administrator orders them.
    assert role_for_groups(["grp-c", "grp-a"], mapping) is Role.ANALYST
    assert role_for_groups(["other"], mapping) is None
    assert require_role_for_groups(["grp-b"], mapping, who="ana") is Role.FIELD
    with pytest.raises(AuthError, match="ana signed in, but none of their groups"):
        require_role_for_groups([], mapping, who="ana")


@pytest.mark.parametrize(("text", "problem"), [
    ("analyst", "is not group=role"), ("=analyst", "is not group=role"),
    ("g=chief", "'chief' in 'g=chief' is not a role"), ("g=field,g=admin", "mapped twice"),
], ids=str)
def test_bad_group_roles_are_refused(text, problem):
    with pytest.raises(ConfigError, match=problem):
        parse_group_roles(text)


def test_auth_modules_import_without_streamlit_or_folium():
    code = ("import sys; sys.modules['streamlit'] = None; sys.modules['folium'] = None\n"
            "import geo.auth, geo.auth.precision, geo.store.users, geo.users, geo.settings")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_session_in_the_session_state():
    policy = SessionPolicy(idle_timeout_min=30, max_session_h=1)
    session = Session.start("ana", Role.ANALYST, T0)
    later = session.touched(T0 + timedelta(minutes=25), role=Role.FIELD)
    assert (later.last_seen, later.role, later.signed_in_at) == (
        T0 + timedelta(minutes=25), Role.FIELD, T0)
    assert session.is_expired(policy, T0 + timedelta(minutes=30))
    assert not later.is_expired(policy, T0 + timedelta(minutes=54))
    assert later.is_expired(policy, T0 + timedelta(minutes=60))  # the one-hour limit
    assert later.touched(T0).last_seen == later.last_seen  # never goes back in time
