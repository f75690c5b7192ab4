-- Roles each plan role is directly a member of (what a REVOKE can take back).
SELECT m.member::regrole::text, m.roleid::regrole::text
  FROM pg_auth_members m
 WHERE m.member::regrole::text = ANY(%(names)s);
