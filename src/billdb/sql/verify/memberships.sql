-- Which roles each role can act as (directly or through other roles).
SELECT r.rolname AS role, array_agg(g.rolname ORDER BY g.rolname) AS member_of
  FROM pg_roles r
  JOIN pg_roles g ON pg_has_role(r.oid, g.oid, 'MEMBER') AND g.oid <> r.oid
 WHERE r.rolname = ANY(%(names)s)
   AND g.rolname <> 'pg_database_owner'  -- implied by owning the database
 GROUP BY r.rolname;
