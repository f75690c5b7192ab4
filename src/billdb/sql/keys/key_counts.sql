-- How many values of one encrypted column each key id sealed ('clear' when a value is not an
-- envelope, which the column's CHECK should make impossible).
SELECT CASE WHEN {column} ~ '^v1:k[0-9]+:' THEN split_part({column}, ':', 2) ELSE 'clear' END,
       count(*)
  FROM {table}
 WHERE {column} IS NOT NULL
 GROUP BY 1
 ORDER BY 1;
