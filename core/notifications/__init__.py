"""Notifications: what a staff member must know, derived from what the other rooms record.

Nobody calls "notify" by hand: a post sent back, a post waiting for approval, a failed delivery
and an account to reconnect are already written down (a delivery's history in ``delivery_events``,
the audit log), and :mod:`core.notifications.service` turns those rows into notifications in the
same flush, so a notification commits (or rolls back) with what it tells. E-mails follow from a
job (:mod:`core.notifications.mail`) when SMTP is configured.
"""
