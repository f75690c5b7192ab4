-- The stored SCRAM verifiers of the plan's login roles (compared with the secrets file).
SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY(%(names)s);
