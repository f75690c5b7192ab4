"""`billdb bench` and `billdb pgbench`: the Bill-Inquiry workload, measured.

flow.py (one simulated user), worker.py (a process of users: one service pod), runner.py
(start the workers, progress, merge the figures), stats.py (percentiles), machine.py (what the
figures were measured on), pgbench.py (the plan's §13.2 pgbench test and the service's
statements under pgbench, in a scratch database).
"""
