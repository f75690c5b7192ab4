-- Any parameter (managed or not) that waits for a restart of this member.
SELECT count(*) FROM pg_settings WHERE pending_restart;
