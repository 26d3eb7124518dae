"""Test hosts for attaching programs: two network namespaces joined by a veth pair.

Traffic only ever goes between namespaces the test made itself (TEST-NET-1 addresses).
"""

from __future__ import annotations

import itertools
import os
import socket
from contextlib import contextmanager, suppress
from dataclasses import dataclass

_unique = itertools.count()


@dataclass(frozen=True)
class VethPair:
    xdp_ns: str  # the namespace whose end the program is attached to
    xdp_if: str
    send_ns: str  # the namespace that sends, with SEND_ADDR on its end
    send_if: str


SEND_ADDR, PEER_ADDR = "192.0.2.1", "192.0.2.2"  # TEST-NET-1, only inside our namespaces


@contextmanager
def veth_between_namespaces():
    """Two fresh network namespaces joined by a veth pair; both are removed however the block ends.

    Nothing is created in the namespace the tests run in. The sending end has an
    address and a permanent neighbour entry for the other end, so UDP leaves
    it without ARP; the other end has no address and lets the XDP program see it.
    """
    from pyroute2 import IPRoute, netns
    from pyroute2.netlink.rtnl.ndmsg import states

    tag = f"{os.getpid() % 100000}{next(_unique)}"
    pair = VethPair(f"vd-{tag}-x", f"vd{tag}x", f"vd-{tag}-s", f"vd{tag}s")
    try:
        netns.create(pair.xdp_ns)
        netns.create(pair.send_ns)
        with IPRoute(netns=pair.xdp_ns) as ipr:
            ipr.link("add", ifname=pair.xdp_if, kind="veth", peer={"ifname": pair.send_if, "net_ns_fd": pair.send_ns})
            index = ipr.link_lookup(ifname=pair.xdp_if)[0]
            ipr.link("set", index=index, state="up")
            mac = ipr.get_links(index)[0].get_attr("IFLA_ADDRESS")
        with IPRoute(netns=pair.send_ns) as ipr:
            index = ipr.link_lookup(ifname=pair.send_if)[0]
            ipr.addr("add", index=index, address=SEND_ADDR, prefixlen=24)
            ipr.link("set", index=index, state="up")
            ipr.neigh("add", dst=PEER_ADDR, lladdr=mac, ifindex=index, state=states["permanent"])
        yield pair
    finally:
        for name in (pair.xdp_ns, pair.send_ns):
            with suppress(OSError):
                netns.remove(name)


def send_udp(namespace: str, count: int) -> None:
    from pyroute2 import netns

    with netns.create_socket(namespace, socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _ in range(count):
            sock.sendto(b"vdoctor", (PEER_ADDR, 9))
