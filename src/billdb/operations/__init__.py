"""Operations (plan §13, §14): the security audit, the checklists, the test plan, incidents.

Each result is a plain dict so the CLI prints it as JSON or a table; the modules read the
live system through billdb's own engines and reuse the drills and benchmarks as they are.
"""
