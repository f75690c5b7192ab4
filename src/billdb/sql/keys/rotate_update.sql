-- Replace one value by its re-encryption, only if nobody changed it meanwhile (a concurrent
-- write by the service wins; its value is sealed with the active key anyway).
UPDATE {table} SET {column} = %(new)s
 WHERE {row_key} = %(row_key)s AND {column} = %(old)s;
