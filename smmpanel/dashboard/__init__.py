"""The panel owner's side of the admin: the dashboard on the admin index and the admin's own pages.

- stats.py: the dashboard's figures (revenue, provider cost, profit, orders per day and by status),
  aggregated by the database over an indexed time range, kept (cache + models.Snapshot).
- (the worker's job of refreshing those sums when a models.Refresh row is due is
  smmpanel.worker.dashboard: the worker imports the dashboard, never the other way).
- templatetags/dashboard.py: puts those figures on the admin index (templates/admin/index.html).
- templates/admin/…: the intermediate pages of the owner's admin actions (a new API key, a price change).
- static/dashboard/: the chart's script and Chart.js itself (vendor/, MIT), served by the panel.
"""
