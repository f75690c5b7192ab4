SELECT d.datname,
       pg_encoding_to_char(d.encoding) AS encoding,
       d.datcollate AS lc_collate,
       d.datctype AS lc_ctype,
       d.datdba::regrole::text AS owner,
       (SELECT substring(cfg FROM '^TimeZone=(.*)$')
          FROM pg_db_role_setting s, unnest(s.setconfig) AS cfg
         WHERE s.setdatabase = d.oid AND s.setrole = 0 AND cfg ILIKE 'timezone=%%') AS timezone
  FROM pg_database d
 WHERE d.datname = %(dbname)s;
