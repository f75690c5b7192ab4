"""TLS as a lifecycle (docs/tls.md): the server certificate renewed at two-thirds of its life
by the scheduler, and the CA rotated with an overlap, each followed by a reload of every
server and of PgBouncer. A reload swaps the files for new handshakes only: no restart, no
connection dropped.

`billdb tls rotate-ca` is journaled (billdb.ops.journal), each step resumable:
1. stage: a new CA key, its certificate added to the bundle clients trust (old + new), reload;
2. switch: a server certificate from the new CA, reload;
3. retire: the old CA out of the bundle, reload.
Between 1 and 3 clients trust both CAs, so a client holding either bundle connects.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import psycopg

from billdb.context import Context
from billdb.engines import azurite, patroni, pgbouncer, process, tls
from billdb.errors import BilldbError, StepError
from billdb.ops import journal
from billdb.ops.backup import common as backup_common
from billdb.ops.scheduler.calendar import Slot
from billdb.ops.scheduler.job import Job
from billdb.state import cluster

S = "§3.2 security"
Progress = Callable[[str], None]


def _uid(ctx: Context) -> int:
    return process.os_user(ctx.local.os_user).pw_uid


def reload_servers(ctx: Context) -> list[str]:
    """Every running member and PgBouncer reread their TLS files; Azurite (the geo
    repository's stand-in, which reads its certificate only at start) is restarted. The names
    reloaded."""
    done = []
    for m in ctx.members:
        if not process.running_pid(patroni.service(ctx.local, ctx.layout, m)):
            continue  # a member that is down reads the files when it starts
        try:
            with cluster.admin_connect(ctx, m) as conn:
                conn.execute("SELECT pg_reload_conf()")
            done.append(m.name)
        except (psycopg.Error, BilldbError):
            continue  # starting or stopping: it reads the files when it (re)starts
    if pgbouncer.reload(pgbouncer.service(ctx.local, ctx.layout)):
        done.append("pgbouncer")
    if _restart_azurite(ctx):
        done.append("azurite (restarted)")
    return done


def _restart_azurite(ctx: Context) -> bool:
    """pgBackRest verifies repo2's certificate with the CA bundle: after a renewal or a CA
    rotation Azurite must present the new certificate, or archiving to repo2 and every
    standby's archive-get stop (seen: a replica left 'starting')."""
    if ctx.local.backup.geo_repo != "azurite":
        return False
    svc = azurite.service(ctx.local, ctx.layout, backup_common.azure_key(ctx))
    if not process.running_pid(svc):
        return False
    process.stop(svc)
    process.start(svc)
    if not azurite.wait_listening(ctx.local.backup.azurite_port, 30):
        raise StepError("tls", "Azurite does not listen again after its restart",
                        str(svc.logfile))
    return True


def status(ctx: Context) -> dict[str, Any]:
    lay = ctx.layout
    facts = tls.cert_facts(lay.server_cert, lay.ca_cert)
    bundle = tls.load_bundle(lay.ca_cert)
    return {
        "server_certificate": str(lay.server_cert),
        "not_after": facts.not_after.isoformat(),
        "lifetime_days": facts.lifetime_days,
        "life_used_pct": round(100 * facts.life_used, 1),
        "renew_at": facts.renew_at.isoformat(),
        "renew_due": facts.renew_due,
        "key_identifiers": facts.key_identifiers,
        "ca_bundle": [{"subject": c.subject.rfc4514_string(),
                       "not_after": c.not_valid_after_utc.isoformat()} for c in bundle],
        "ok": facts.fit,
    }


def renew(ctx: Context, force: bool = False) -> dict[str, Any]:
    """Issue a new server certificate when due (or `force`), then reload."""
    lay = ctx.layout
    due = force or not tls.certificate_ok(lay.server_cert, lay.ca_cert, lay.ca_key)
    reloaded: list[str] = []
    if due:
        tls.issue_server_cert(lay.ca_cert, lay.ca_key, lay.server_cert, lay.server_key,
                              _uid(ctx))
        reloaded = reload_servers(ctx)
    return {"renewed": due, "reloaded": reloaded, **status(ctx)}


def rotate_ca(ctx: Context, progress: Progress = lambda _m: None) -> dict[str, Any]:
    lay = ctx.layout

    def stage(j: journal.Journal) -> str:
        old = tls.current_ca(lay.ca_cert, lay.ca_key)
        j.record(old_ca=old.subject.rfc4514_string() if old else None)
        tls.stage_ca(lay.ca_cert, lay.ca_key)
        return f"new CA staged ({len(tls.load_bundle(lay.ca_cert))} in the bundle); " \
               f"reloaded {', '.join(reload_servers(ctx))}"

    def switch(_j: journal.Journal) -> str:
        tls.issue_server_cert(lay.ca_cert, lay.ca_key, lay.server_cert, lay.server_key,
                              _uid(ctx))
        return f"server certificate from the new CA; reloaded {', '.join(reload_servers(ctx))}"

    def retire(_j: journal.Journal) -> str:
        n = tls.retire_old_cas(lay.ca_cert, lay.ca_key)
        return f"{n} old CA(s) retired; reloaded {', '.join(reload_servers(ctx))}"

    j, record = journal.run(
        journal.directory(lay.state_dir), "tls rotate-ca", {},
        [journal.Step("stage", stage), journal.Step("switch", switch),
         journal.Step("retire", retire)],
        command="billdb tls rotate-ca", progress=progress)
    return {"old_ca": j.data.get("old_ca"), **status(ctx), "journal": record}


def _renew_job(ctx: Context, when: dt.datetime) -> str:
    r = renew(ctx)
    return (f"renewed; reloaded {', '.join(r['reloaded'])}" if r["renewed"]
            else f"not due (renews at {r['renew_at']})")


def jobs(ctx: Context) -> list[Job]:
    """Daily: renew the server certificate once two-thirds of its life has passed."""
    return [Job("tls.renew", "renew the server certificate at 2/3 of its life, then reload",
                Slot("03:30", ctx.plan.backup.schedule.timezone), _renew_job, S)]
