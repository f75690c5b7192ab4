"""billdb's own job scheduler (no cron or systemd here): `billdb scheduler run` is a supervised
process started by `billdb up`. Features contribute jobs through `jobs.providers()`."""
