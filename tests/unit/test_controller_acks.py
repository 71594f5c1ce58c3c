"""How the controller answers an agent's refusals (nacks)."""

from __future__ import annotations

import asyncio

from overcast.controller.service import ControllerService, HostSession, resync_delay
from overcast.protocol import controller_pb2 as pb


def _nack(revision: int) -> pb.Ack:
    return pb.Ack(revision=revision, ok=False, error="cannot apply")


def test_a_nack_gets_a_snapshot_unless_one_sent_later_repairs_it() -> None:
    async def scenario() -> None:
        service = ControllerService(directory=None)  # type: ignore[arg-type]  # acks need no store
        service.revision = 10
        session = HostSession("h1", "peer")
        service.sessions["h1"] = session
        session.send(b"delta 8", 8)
        session.send(b"delta 9", 9)

        service._on_ack(session, _nack(8))  # the first refusal: a snapshot at the current revision
        assert session.snapshot_revision == 10 and session.outbox.qsize() == 3
        snapshot = pb.ControllerMessage.FromString(list(session.outbox._queue)[-1]).update  # type: ignore[attr-defined]
        assert snapshot.snapshot and snapshot.revision == 10

        service._on_ack(session, _nack(9))  # sent before that snapshot, which repairs it too
        assert session.outbox.qsize() == 3 and session.refusals == 1

        service._on_ack(session, _nack(10))  # the snapshot itself refused: another, after a pause
        assert session.outbox.qsize() == 3 and session.resync is not None and session.refusals == 2
        service._on_ack(session, _nack(10))  # refusals while it waits add no second one
        await asyncio.sleep(resync_delay(2) + 0.05)
        assert session.outbox.qsize() == 4 and session.snapshot_revision == 10 and session.resync is None

        service._on_ack(session, pb.Ack(revision=10, ok=True))
        assert session.in_sync and session.refusals == 0

    asyncio.run(scenario())
