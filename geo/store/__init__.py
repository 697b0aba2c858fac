"""The alert store: runway alerts that people act on, with their evidence and audit trail.

One data layer, two backends: SQLite (embedded default, a WAL-mode file under the data folder)
and PostgreSQL/PostGIS for teams (``ATALAYA_DATABASE_URL=postgresql+psycopg://...``). The
schema is versioned (:mod:`geo.store.migrations`) and migrated by :func:`open_store`.

Tables
------
``alerts``
    One row per strip: geometry (Polygon, EPSG:4326) with bounding box, centroid and
    ``country`` (ISO 3166-1 alpha-2 of the centroid, None at sea), score,
    review ``state``, ``priority``, reason, length/width/bearing, scene, ``first_seen``,
    ``last_seen``, number of detections, ``assignee``, ``version``, created/updated by and at.
``detections``
    The history of sightings: one row per alert and scene (see :mod:`geo.store.merge`).
``absences``
    Scenes a detection run saw an alert's ground in, clear of clouds and nodata, without the
    strip; with the detections they give the alert's ``detection_state`` over runs.
``assignments``, ``comments``, ``attachments``
    Who works on it (with history), what people wrote, image chips (bytes or a server path,
    with media type, size, SHA-256 and free metadata).
``audit_log``
    Append-only: who, when, which alert, action, field, old and new value (JSON), request id.
    The database itself refuses UPDATE and DELETE on it.
``subscriptions``, ``notifications``, ``deliveries``
    Who follows which saved area (geometry copied), their inbox, and the outbox of e-mails and
    webhooks to send (:mod:`geo.store.subscriptions`).

Rules
-----
- **Review states** follow the machine in :mod:`geo.store.states`; an impossible move raises
  :class:`~geo.errors.TransitionError`.
- **Optimistic locking**: a change names the version it was made from; a stale one raises
  :class:`~geo.errors.StaleVersionError` ("changed by X at T, reload") and writes nothing.
- **One transaction per change**, audit rows included.
- **Merging detections** never creates two alerts for one strip and never overwrites a
  person's verdict (:func:`merge_candidates`).
- **Notifications** of a new alert or a state change are written in that change's
  transaction; sending them (:func:`deliver_pending`) happens afterwards and never raises
  for a dead mail server or webhook.

Examples
--------
>>> import tempfile
>>> from geo.store import list_alerts, open_store
>>> with tempfile.TemporaryDirectory() as folder:
...     with open_store(f"sqlite:///{folder}/alerts.sqlite3") as store:
...         print(store.backend, list_alerts(store))
sqlite []
"""

from __future__ import annotations

from geo.store.alerts import (
    Alert,
    AlertChange,
    Attachment,
    add_attachment,
    add_comment,
    alerts_frame,
    apply_changes,
    awaiting_first,
    get_alert,
    list_alerts,
    read_assignments,
    read_attachment_content,
    read_attachments,
    read_comments,
    update_alert,
)
from geo.store.audit import AuditEntry, read_audit
from geo.store.engine import Store, default_url, open_store
from geo.store.merge import (
    Look,
    MergeReport,
    fill_countries,
    merge_candidates,
    read_absences,
    read_detections,
)
from geo.store.states import (
    ALERT_STATES,
    AWAITING_STATES,
    TRANSITIONS,
    allowed_next,
    check_transition,
)
from geo.store.subscriptions import (
    DeliveryReport,
    InboxGroup,
    Notification,
    SmtpConfig,
    Subscription,
    deliver_pending,
    inbox,
    inbox_groups,
    list_subscriptions,
    mark_read,
    mark_read_group,
    subscribe,
    unread_count,
    unsubscribe,
    webhook_secret_from_env,
)

__all__ = [
    "ALERT_STATES",
    "AWAITING_STATES",
    "TRANSITIONS",
    "Alert",
    "AlertChange",
    "Attachment",
    "AuditEntry",
    "DeliveryReport",
    "InboxGroup",
    "Look",
    "MergeReport",
    "Notification",
    "SmtpConfig",
    "Store",
    "Subscription",
    "add_attachment",
    "add_comment",
    "alerts_frame",
    "allowed_next",
    "apply_changes",
    "awaiting_first",
    "check_transition",
    "default_url",
    "deliver_pending",
    "fill_countries",
    "get_alert",
    "inbox",
    "inbox_groups",
    "list_alerts",
    "list_subscriptions",
    "mark_read",
    "mark_read_group",
    "merge_candidates",
    "open_store",
    "read_absences",
    "read_assignments",
    "read_attachment_content",
    "read_attachments",
    "read_audit",
    "read_comments",
    "read_detections",
    "subscribe",
    "unread_count",
    "unsubscribe",
    "update_alert",
    "webhook_secret_from_env",
]
