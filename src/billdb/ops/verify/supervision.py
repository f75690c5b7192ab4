"""Every supervised program running (converge.supervision): etcd, Patroni per member, and the
services ops and the satellites add (`ops.services.satellites`)."""

from __future__ import annotations

from collections.abc import Iterator

from billdb.context import Context
from billdb.converge import supervision
from billdb.engines import etcd, patroni
from billdb.ops import services
from billdb.ops.verify.check import Check


def checks(ctx: Context) -> Iterator[Check]:
    every = [*etcd.services(ctx.local, ctx.layout),
             *(patroni.service(ctx.local, ctx.layout, m) for m in ctx.members),
             *services.satellites(ctx)]
    yield from supervision.checks(supervision.desired(every),
                                  supervision.observe(ctx.layout.supervisor_dir))
