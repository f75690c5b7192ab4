-- Values of one encrypted column that are not a v1 envelope (placeholders: table, column).
SELECT count(*) FILTER (WHERE {column} IS NOT NULL
                          AND {column}::text !~ '^v1:[A-Za-z0-9_-]+:[A-Za-z0-9_=-]+$') AS plain,
       count({column}) AS total
  FROM {table};
