"""The production target: the plan on Azure Database for PostgreSQL flexible server.

`operations` builds the ordered ARM requests from the SDK's models, `rules` checks what the
SDK does not, `apply` runs them (journaled), `double` is the test's stand-in for Resource
Manager. docs/azure.md tells the mapping from plan items to Azure settings.
"""
