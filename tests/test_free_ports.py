"""Choosing ports for our servers: outside the kernel's ephemeral range, never twice.

Real sockets on loopback; no fakes.
"""

from __future__ import annotations

import socket

from milvus_lab import processes


def test_ports_come_from_below_the_ephemeral_range():
    """A port from the ephemeral range can be taken by any outgoing connection between the
    moment it is chosen and the moment our router listens on it (CI: "port 46811 is in use by
    a process that is not our router")."""
    ephemeral_low, _ = processes.ephemeral_range()
    ports = processes.free_ports(50)
    assert len(set(ports)) == 50
    assert all(processes.PORT_RANGE_LOW <= p < ephemeral_low for p in ports), ports


def test_a_port_is_never_handed_out_twice_nor_one_to_avoid():
    first = processes.free_port()
    avoid = set(range(processes.PORT_RANGE_LOW, processes.PORT_RANGE_LOW + 2000))
    others = [processes.free_port(avoid=avoid) for _ in range(200)]
    assert first not in others
    assert not avoid.intersection(others)
    several = processes.free_ports(20, avoid=iter(sorted(avoid)))  # an iterator, read once
    assert not avoid.intersection(several)


def test_each_block_is_its_own_and_a_held_port_is_taken():
    """The compose test and the container fixture once got the same block in one session, and
    the second Milvus could not bind the etcd port the first had just released."""
    first, second = processes.free_port_block(10), processes.free_port_block(10)
    assert abs(first - second) >= 10
    with socket.socket() as s:  # taken is taken, however it is held
        s.bind(("127.0.0.1", first))
        s.listen()
        assert not processes._bindable(first)
    assert processes._bindable(second)


def test_replica_ports_avoid_the_ports_the_settings_pin(tmp_path):
    """A replica started before the router must not take the router's (not yet bound) port."""
    from milvus_lab.settings import Settings

    settings = Settings(repo_root=tmp_path, home=tmp_path)
    pinned = set(settings.pinned_ports().values())
    assert not pinned.intersection(processes.free_port(avoid=pinned) for _ in range(300))
