"""Operations: what the commands do (provision, verify, status, drills, backups, ...)."""
