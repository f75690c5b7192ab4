-- Default privileges the owner role leaves on objects it creates later in public.
SELECT d.defaclobjtype AS objtype, a.grantee::regrole::text AS grantee,
       array_agg(a.privilege_type ORDER BY a.privilege_type) AS privileges
  FROM pg_default_acl d
 CROSS JOIN LATERAL aclexplode(d.defaclacl) a
 WHERE d.defaclrole = %(owner)s::regrole
   AND d.defaclnamespace = 'public'::regnamespace
 GROUP BY 1, 2;
