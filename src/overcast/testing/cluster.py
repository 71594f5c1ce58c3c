"""A whole control plane in one process: a served directory, a controller and agents on the
memory dataplane, on a background asyncio loop (real gRPC over loopback, real unix sockets).

Tests drive it like an operator would: the REST API for the directory, each agent's local API
for attachments, and compare every agent's state with a fresh compile of the directory.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..agent.agent import Agent, TlsFiles
from ..agent.api import serve_local_api
from ..agent.client import AgentClient
from ..agent.credentials import CSPROOT, RuntimeCredentials
from ..controller.feed import load_policy_input
from ..controller.server import ControllerConfig, run_controller
from ..controller.service import ControllerService
from ..dataplane.base import Dataplane
from ..dataplane.memory import MemoryDataplane
from ..directory.service import Directory
from ..policy.compiler import Key, compile_host_entries

T = TypeVar("T")


def expected_host_entries(directory: Directory) -> dict[str, dict[Key, Any]]:
    """What every host should hold, by a fresh full compile of the directory's store."""
    return compile_host_entries(load_policy_input(directory))


@dataclass
class RunningController:
    config: ControllerConfig
    port: int = 0
    service: ControllerService | None = None
    stop: asyncio.Event | None = None
    task: Future[None] | None = None


class Cluster:
    def __init__(
        self,
        directory: Directory,
        workdir: Path,
        hosts: dict[str, str],
        *,
        controller_config: ControllerConfig | None = None,
        controllers: int = 1,
        agent_tls: Callable[[str], TlsFiles | None] | None = None,
        dataplane: Callable[[str, str], Dataplane] | None = None,
        credentials: RuntimeCredentials | None | Callable[[str], RuntimeCredentials | None] = CSPROOT,
    ) -> None:
        self.directory = directory
        #: Host ID -> the runtime credentials its agent is given (None: its requests are refused).
        self.credentials_of = credentials if callable(credentials) else (lambda _host: credentials)
        self.workdir = workdir
        self.hosts = hosts  # host ID -> underlay address
        config = controller_config or ControllerConfig(listen="127.0.0.1:0", host_grace=2.0)
        self.controllers = [
            RunningController(ControllerConfig(**{**config.__dict__, "controller_id": f"controller-{i + 1}"}))
            for i in range(controllers)
        ]
        self.agent_tls = agent_tls or (lambda host: None)
        #: (host ID, underlay address) -> the host's dataplane (memory unless told otherwise)
        self.make_dataplane = dataplane or (lambda host, _address: MemoryDataplane(host))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="cluster", daemon=True)
        self.agents: dict[str, Agent] = {}
        self._agent_tasks: dict[str, list[asyncio.Task[None]]] = {}

    # --- plumbing ------------------------------------------------------------------------------

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def call(self, function: Callable[[], T]) -> T:
        async def wrapper() -> T:
            return function()

        return self.run(wrapper())

    def __enter__(self) -> Cluster:
        self.thread.start()
        try:
            for index in range(len(self.controllers)):
                self.start_controller(index)
            for host_id in self.hosts:
                self.start_agent(host_id)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *_exc: Any) -> None:
        for host_id in list(self._agent_tasks):
            self.stop_agent(host_id)
        for index in range(len(self.controllers)):
            self.stop_controller(index)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)

    # --- controllers ---------------------------------------------------------------------------

    @property
    def controller(self) -> ControllerService | None:
        """The first running controller."""
        return next((c.service for c in self.controllers if c.service is not None), None)

    @property
    def port(self) -> int:
        return self.controllers[0].port

    def addresses(self) -> list[str]:
        return [f"127.0.0.1:{c.port}" for c in self.controllers]

    def start_controller(self, index: int = 0) -> None:
        running = self.controllers[index]
        started: Future[None] = Future()
        running.stop = self.call(asyncio.Event)
        listen = running.config.listen
        if running.port:  # a restart keeps the address the agents know
            listen = f"127.0.0.1:{running.port}"
        config = ControllerConfig(**{**running.config.__dict__, "listen": listen})

        def on_start(service: ControllerService, port: int) -> None:
            running.service, running.port = service, port
            started.set_result(None)

        running.task = asyncio.run_coroutine_threadsafe(
            run_controller(config, directory=self.directory, started=on_start, stop=running.stop), self.loop
        )
        started.result(timeout=30)

    def stop_controller(self, index: int = 0) -> None:
        running = self.controllers[index]
        if running.stop is None or running.task is None:
            return
        self.loop.call_soon_threadsafe(running.stop.set)
        running.task.result(timeout=30)
        running.stop = running.task = running.service = None

    # --- agents --------------------------------------------------------------------------------

    def socket(self, host_id: str) -> Path:
        return self.workdir / f"{host_id}.sock"

    def start_agent(self, host_id: str, controllers: list[str] | None = None) -> Agent:
        async def start() -> Agent:
            agent = self.agents.get(host_id)
            if agent is None or controllers is not None:
                agent = Agent(
                    host_id,
                    self.hosts[host_id],
                    controllers or self.addresses(),
                    self.make_dataplane(host_id, self.hosts[host_id]),
                    tls=self.agent_tls(host_id),
                    tls_server_name="controller" if self.agent_tls(host_id) else None,
                    credentials=self.credentials_of(host_id),
                )
            else:  # a restarted agent process keeps nothing but what the kernel would
                agent = Agent(
                    host_id,
                    self.hosts[host_id],
                    agent.controllers,
                    agent.dataplane,
                    tls=agent.tls,
                    tls_server_name=agent.tls_server_name,
                    credentials=agent.credentials,
                )
            self.agents[host_id] = agent
            self._agent_tasks[host_id] = [
                asyncio.create_task(agent.run()),
                asyncio.create_task(serve_local_api(agent, self.socket(host_id))),
            ]
            return agent

        agent = self.run(start())
        self.wait_for(lambda: self.socket(host_id).exists(), f"{host_id}'s socket")
        return agent

    def stop_agent(self, host_id: str) -> None:
        async def stop() -> None:
            self.agents[host_id].stop()
            tasks = self._agent_tasks.pop(host_id)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self.run(stop())

    def drop_session(self, host_id: str) -> None:
        """Break an agent's controller session (a network blip): it reconnects by itself."""

        def cancel() -> None:
            call = self.agents[host_id]._call
            if call is not None:
                call.cancel()

        self.call(cancel)

    def client(self, host_id: str) -> AgentClient:
        return AgentClient(self.socket(host_id))

    # --- convergence ---------------------------------------------------------------------------

    def wait_for(self, predicate: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
        import time

        deadline = time.monotonic() + timeout
        while not self.call(predicate):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.02)

    def held(self) -> dict[str, dict[Key, Any]]:
        """What every running agent holds (hosts holding nothing are left out)."""
        return self.call(
            lambda: {
                h: dict(a.state.entries)
                for h, a in self.agents.items()
                if h in self._agent_tasks and a.state.entries
            }
        )

    def converged(self) -> bool:
        """Every running agent is in step with a controller that has read the whole change log."""
        head = self.directory.head_revision()
        for host_id in self._agent_tasks:
            if not any(
                c.service is not None
                and c.service.revision == head
                and (s := c.service.sessions.get(host_id)) is not None
                and s.in_sync
                for c in self.controllers
            ):
                return False
        return True

    def wait_converged(self, timeout: float = 20.0) -> None:
        self.wait_for(self.converged, "the agents to converge", timeout)

    def assert_matches_directory(self) -> None:
        """Every agent holds exactly what a fresh compile says its host needs."""
        self.wait_converged()
        expected = expected_host_entries(self.directory)
        held = self.held()
        running = {h: e for h, e in expected.items() if h in self._agent_tasks}
        assert held == running, _difference(held, running)


def _difference(held: dict[str, dict[Key, Any]], expected: dict[str, dict[Key, Any]]) -> str:
    lines = []
    for host in sorted(set(held) | set(expected)):
        have, want = held.get(host, {}), expected.get(host, {})
        missing = sorted(k for k in want if k not in have)[:5]
        extra = sorted(k for k in have if k not in want)[:5]
        changed = sorted(k for k in want if k in have and have[k] != want[k])[:5]
        if missing or extra or changed:
            lines.append(f"{host}: missing {missing} extra {extra} changed {changed}")
    return "\n".join(lines)
