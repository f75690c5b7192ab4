"""One converge core: each plan area is a resource with desired / observe / checks / apply.

`billdb up` applies a resource's drifts; `billdb verify` reports the same checks read-only,
so a drift that verify reports is, by construction, what up repairs. See core.py.
"""
