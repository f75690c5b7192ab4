-- The next batch of values of one encrypted column not sealed with the active key, in row-key
-- order after the last key seen (keyset pagination: each batch is an index range scan).
-- {table}, {column}, {row_key} are identifiers composed by billdb.ops.keys.
SELECT {row_key}, {column}
  FROM {table}
 WHERE {column} IS NOT NULL
   AND split_part({column}, ':', 2) <> %(active)s
   AND {row_key} > %(after)s
 ORDER BY {row_key}
 LIMIT %(batch)s;
