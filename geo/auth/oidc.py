"""Roles of people signed in through an OIDC provider, from the groups the provider sends.

``ATALAYA_OIDC_GROUP_ROLES="grp-analysts=analyst,grp-field=field"`` maps the provider's group
names to roles. A person in several mapped groups gets the role of the first mapping that
matches, so the administrator decides the precedence by the order of the list; a person in no
mapped group gets no role and is refused (default deny).

Examples
--------
>>> mapping = parse_group_roles("ops-admins=admin, analysts=analyst")
>>> role_for_groups(["staff", "analysts"], mapping)
<Role.ANALYST: 'analyst'>
>>> role_for_groups(["staff"], mapping) is None
True
"""

from __future__ import annotations

from collections.abc import Iterable

from geo.auth.permissions import Role
from geo.errors import AuthError, ConfigError

GroupRoles = tuple[tuple[str, Role], ...]


def parse_group_roles(text: str, *, name: str = "ATALAYA_OIDC_GROUP_ROLES") -> GroupRoles:
    """Parse ``group=role`` pairs separated by commas (empty text: no mapping).

    Raises
    ------
    ConfigError
        A pair without ``=``, an empty group name, an unknown role, or a group given twice.

    Examples
    --------
    >>> parse_group_roles("grp-a=analyst,grp-b=field")
    (('grp-a', <Role.ANALYST: 'analyst'>), ('grp-b', <Role.FIELD: 'field'>))
    """
    pairs: list[tuple[str, Role]] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        group, sep, role = item.rpartition("=")
        group = group.strip()
        if not sep or not group:
            raise ConfigError(f"{name}: {item!r} is not group=role "
                              "(e.g. grp-analysts=analyst,grp-field=field)")
        try:
            parsed = Role(role.strip().lower())
        except ValueError:
            raise ConfigError(f"{name}: {role.strip()!r} in {item!r} is not a role; expected "
                              f"one of {', '.join(r.value for r in Role)}") from None
        if any(group == known for known, _ in pairs):
            raise ConfigError(f"{name}: the group {group!r} is mapped twice; keep one")
        pairs.append((group, parsed))
    return tuple(pairs)


def role_for_groups(groups: Iterable[str], mapping: GroupRoles) -> Role | None:
    """Return the role of the first mapping whose group is in ``groups`` (None if none)."""
    have = set(groups)
    return next((role for group, role in mapping if group in have), None)


def require_role_for_groups(groups: Iterable[str], mapping: GroupRoles, *, who: str) -> Role:
    """Like :func:`role_for_groups`, but raise :class:`~geo.errors.AuthError` for no role."""
    role = role_for_groups(groups, mapping)
    if role is None:
        raise AuthError(f"{who} signed in, but none of their groups is given a role in "
                        "ATALAYA_OIDC_GROUP_ROLES; ask an administrator to map one")
    return role
