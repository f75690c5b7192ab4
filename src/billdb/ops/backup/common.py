"""What every backup operation needs: the engine for this environment, its paths, secrets."""

from __future__ import annotations

from billdb.backup_layout import BackupLayout
from billdb.context import Context
from billdb.engines.pgbackrest import PgBackRest
from billdb.engines.secrets import SecretStore, generate_password
from billdb.render.pgbackrest import RepoSecrets, stanza

REPOS = (1, 2)
SECRET_REPO1 = "pgbackrest:repo1-cipher-pass"
SECRET_REPO2 = "pgbackrest:repo2-cipher-pass"
SECRET_AZURE = "azurite:account-key"


def paths(ctx: Context) -> BackupLayout:
    return BackupLayout(ctx.layout)


def engine(ctx: Context) -> PgBackRest:
    return PgBackRest(paths(ctx).config, stanza(ctx.plan), ctx.local.os_user)


def _azure_key() -> str:
    """An Azure shared key is base64 of 64 random bytes."""
    import base64
    import secrets

    return base64.b64encode(secrets.token_bytes(64)).decode()


def ensure_secrets(ctx: Context) -> list[str]:
    """Generate the repository passphrases and the Azurite key once; names of new ones."""
    store = SecretStore(ctx.layout.secrets_file)
    made = [n for n in (SECRET_REPO1, SECRET_REPO2)
            if store.ensure(n, lambda: generate_password(64))]
    if store.ensure(SECRET_AZURE, _azure_key):
        made.append(SECRET_AZURE)
    return made


def repo_secrets(ctx: Context) -> RepoSecrets:
    store = SecretStore(ctx.layout.secrets_file)
    return RepoSecrets(store.get(SECRET_REPO1), store.get(SECRET_REPO2),
                       store.get(SECRET_AZURE) if store.has(SECRET_AZURE) else "")


def azure_key(ctx: Context) -> str:
    """The Azurite account key, or '' before `billdb up` generated it."""
    if not ctx.layout.secrets_file.exists():
        return ""
    store = SecretStore(ctx.layout.secrets_file)
    return store.get(SECRET_AZURE) if store.has(SECRET_AZURE) else ""
