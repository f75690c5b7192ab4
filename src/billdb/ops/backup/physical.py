"""Physical backups with pgBackRest: take one into every repository, list them, verify them.

pgBackRest writes a backup into one repository per run, so "a backup in both repos" is two
runs (repo1, then the geo copy repo2); WAL is pushed to both by archive_command. Backups are
read from a streaming standby when there is one, from the primary otherwise.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from billdb.context import Context
from billdb.engines.pgbackrest import PgBackRest
from billdb.errors import ArgumentError, BilldbError
from billdb.ops.backup import archive_state, common
from billdb.state import cluster

KINDS = ("full", "diff", "incr")


def _standby_streaming(ctx: Context) -> bool:
    return any(m.streaming for m in cluster.observe(ctx).members)


def backup_repo(ctx: Context, eng: PgBackRest, kind: str, repo: int) -> float:
    t0 = time.monotonic()
    eng.backup(kind, repo, standby=_standby_streaming(ctx))
    return round(time.monotonic() - t0, 2)


def take_backup(ctx: Context, kind: str = "full", on_repo=lambda repo: None) -> dict[str, Any]:
    """A backup of `kind` into repo1 and repo2; the labels come from `info` afterwards."""
    if kind not in KINDS:
        raise ArgumentError(f"--type must be one of {', '.join(KINDS)}, not {kind!r}")
    cluster.leader(ctx)  # a clear error when the environment is down
    eng = common.engine(ctx)
    before = {(b["repo"], b["label"]) for b in backups(eng.stanza_info())}
    t0 = time.monotonic()
    runs = []
    for repo in common.REPOS:
        on_repo(repo)
        runs.append({"repo": repo, "duration_s": backup_repo(ctx, eng, kind, repo)})
    new = [b for b in backups(eng.stanza_info()) if (b["repo"], b["label"]) not in before]
    for run in runs:
        found = [b for b in new if b["repo"] == run["repo"]]
        run["backup"] = found[-1] if found else None
    return {"type": kind, "duration_s": round(time.monotonic() - t0, 2), "repos": runs,
            "ok": all(r["backup"] for r in runs)}


def _iso(ts: int | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat() if ts else None


def backups(stanza: dict[str, Any]) -> list[dict[str, Any]]:
    """Every backup of every repository, oldest first, from `info --output=json`."""
    ciphers = {r.get("key"): r.get("cipher") for r in stanza.get("repo", [])}
    out = []
    for b in stanza.get("backup", []):
        repo = (b.get("database") or {}).get("repo-key")
        info = b.get("info") or {}
        archive = b.get("archive") or {}
        ts = b.get("timestamp") or {}
        out.append({
            "label": b.get("label"),
            "type": b.get("type"),
            "repo": repo,
            "start": _iso(ts.get("start")),
            "stop": _iso(ts.get("stop")),
            "start_epoch": ts.get("start"),
            "size_bytes": info.get("size"),
            "repo_size_bytes": (info.get("repository") or {}).get("size"),
            "wal_start": archive.get("start"),
            "wal_stop": archive.get("stop"),
            "prior": b.get("prior"),
            "cipher": ciphers.get(repo),
            "encrypted": ciphers.get(repo) not in (None, "none"),
            "error": b.get("error", False),
        })
    return sorted(out, key=lambda b: (b["start_epoch"] or 0, b["repo"] or 0))


def full_backups_by_repo(stanza: dict[str, Any]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    for b in backups(stanza):
        if b["type"] == "full":
            out.setdefault(b["repo"], []).append(b)
    return out


def listing(ctx: Context) -> dict[str, Any]:
    st = common.engine(ctx).stanza_info()
    if not st:
        raise BilldbError("no stanza found: run `billdb up` first")
    repos = [{"repo": r.get("key"), "cipher": r.get("cipher"),
              "status": (r.get("status") or {}).get("message")} for r in st.get("repo", [])]
    archives = [{"repo": (a.get("database") or {}).get("repo-key"), "min": a.get("min"),
                 "max": a.get("max")} for a in st.get("archive", [])]
    status = st.get("status") or {}
    return {"stanza": st.get("name"), "ok": status.get("code") == 0,
            "status": status.get("message"), "repos": repos, "archive": archives,
            "backups": backups(st)}


def newest_full_start(stanza: dict[str, Any]) -> dict[int, int]:
    return {repo: max(b["start_epoch"] or 0 for b in fulls)
            for repo, fulls in full_backups_by_repo(stanza).items() if fulls}


def archive_gaps(ctx: Context, stanza: dict[str, Any]) -> dict[int, str]:
    """repo -> why its backups are broken: WAL dropped at archive-push-queue-max after its
    newest full backup started (docs/bounds.md)."""
    dropped = archive_state.drops(ctx)
    last = dropped[-1] if dropped else None
    return {repo: (f"WAL {last.wal} dropped at {last.at.isoformat()} (archive-push-queue-max):"
                   " point-in-time recovery has a gap until a new full backup")
            for repo in archive_state.broken_repos(last, newest_full_start(stanza))
            if last is not None}


def verify(ctx: Context) -> dict[str, Any]:
    """pgBackRest verify on each repository; damage makes ok false (verify itself exits 0).
    A repository whose archive has a gap after its newest full backup fails too."""
    eng = common.engine(ctx)
    results = [eng.verify(repo) for repo in common.REPOS]
    gaps = archive_gaps(ctx, eng.stanza_info())
    repos = [{"repo": r.repo, "ok": r.ok and r.repo not in gaps,
              "errors": r.errors + ([gaps[r.repo]] if r.repo in gaps else [])}
             for r in results]
    return {"ok": all(r["ok"] for r in repos), "repos": repos}
