"""The panel's own date formats (settings.FORMAT_MODULE_PATH): one way to write a date wherever a person reads it.

Django's English formats ("Dec. 6, 2026, 1:15 a.m.") would show in the admin next to the panel's
"2026-12-06 01:15": these make the admin's lists and pages use the panel's. The API and the CSV
export write their own fixed shapes (ISO 8601) and are not affected.
"""
