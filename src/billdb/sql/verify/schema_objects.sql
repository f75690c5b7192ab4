-- Tables, columns, indexes, constraints and triggers of one schema, with the schema name
-- removed from definitions so a scratch replay of the migrations compares equal. Partitions
-- (tables, their columns, indexes, constraints, triggers) are left out: they follow the
-- calendar, not the migrations, and `billdb verify` checks their coverage separately.
WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname = %(schema)s)
SELECT 'table' AS kind, c.relname AS name, c.relkind::text AS definition
  FROM pg_class c, ns WHERE c.relnamespace = ns.oid AND c.relkind IN ('r', 'p')
   AND NOT c.relispartition
UNION ALL
SELECT 'column', c.relname || '.' || a.attname,
       format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
       || coalesce(' default ' || regexp_replace(pg_get_expr(d.adbin, d.adrelid),
                                                  %(schema)s || '\.', '', 'g'), '')
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN ns ON c.relnamespace = ns.oid
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped AND NOT c.relispartition
UNION ALL
SELECT 'index', i.relname,
       regexp_replace(pg_get_indexdef(i.oid), ' ON (ONLY )?' || %(schema)s || '\.', ' ON \1')
  FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN ns ON i.relnamespace = ns.oid
 WHERE NOT i.relispartition
UNION ALL
SELECT 'constraint', t.relname || '.' || con.conname,
       regexp_replace(pg_get_constraintdef(con.oid), %(schema)s || '\.', '', 'g')
  FROM pg_constraint con JOIN pg_class t ON t.oid = con.conrelid JOIN ns ON t.relnamespace = ns.oid
 WHERE NOT t.relispartition
UNION ALL
SELECT 'trigger', t.relname || '.' || tg.tgname,
       regexp_replace(pg_get_triggerdef(tg.oid), %(schema)s || '\.', '', 'g')
  FROM pg_trigger tg JOIN pg_class t ON t.oid = tg.tgrelid JOIN ns ON t.relnamespace = ns.oid
 WHERE NOT tg.tgisinternal AND NOT t.relispartition
UNION ALL
SELECT 'function', p.proname, md5(p.prosrc)
  FROM pg_proc p JOIN ns ON p.pronamespace = ns.oid
 WHERE NOT EXISTS (SELECT 1 FROM pg_depend dep
                    WHERE dep.classid = 'pg_proc'::regclass AND dep.objid = p.oid
                      AND dep.deptype = 'e');
