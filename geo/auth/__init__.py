"""Access control: roles and permissions, passwords, lockout, sessions, OIDC group roles.

Pure logic only (no streamlit, no store). The accounts themselves live in the store
(:mod:`geo.store.users`); location coarsening by role is in :mod:`geo.auth.precision`.
"""

from __future__ import annotations

from geo.auth.lockout import LockoutPolicy
from geo.auth.oidc import parse_group_roles, require_role_for_groups, role_for_groups
from geo.auth.passwords import (
    DEFAULT_POLICY,
    PasswordPolicy,
    ScryptParams,
    hash_password,
    needs_rehash,
    verify_password,
)
from geo.auth.permissions import (
    DESCRIPTIONS,
    PAGE_ACTIONS,
    PERMISSIONS,
    Action,
    Role,
    allowed_actions,
    can,
    pages_for,
    parse_role,
    require,
    roles_allowed,
)
from geo.auth.sessions import Session, SessionPolicy

__all__ = [
    "DEFAULT_POLICY",
    "DESCRIPTIONS",
    "PAGE_ACTIONS",
    "PERMISSIONS",
    "Action",
    "LockoutPolicy",
    "PasswordPolicy",
    "Role",
    "ScryptParams",
    "Session",
    "SessionPolicy",
    "allowed_actions",
    "can",
    "hash_password",
    "needs_rehash",
    "pages_for",
    "parse_group_roles",
    "parse_role",
    "require",
    "require_role_for_groups",
    "role_for_groups",
    "roles_allowed",
    "verify_password",
]
