"""Attach an XDP program to a network interface for the length of a `with` block.

Netlink through pyroute2 (RTM_SETLINK with IFLA_XDP), the way `ip link set
dev X xdp fd N` does it. The program is attached with XDP_FLAGS_UPDATE_IF_NOEXIST,
so a program someone else attached is never replaced, and detached with
XDP_FLAGS_REPLACE and our fd as the expected one, so only ours is removed.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from ..errors import VdoctorError

# include/uapi/linux/if_link.h
XDP_FLAGS_UPDATE_IF_NOEXIST = 1 << 0
XDP_FLAGS_REPLACE = 1 << 4
MODE_FLAGS = {"generic": 1 << 1, "native": 1 << 2, "driver": 1 << 2, "offload": 1 << 3}


def _rtnl(netns: str | None) -> IPRoute:
    if netns is None:
        return IPRoute()
    try:
        return IPRoute(netns=netns, flags=0)  # flags=0: never create the namespace
    except (OSError, NetlinkError):
        raise VdoctorError(f"There is no network namespace named {netns}.") from None


def _set_xdp(ipr: IPRoute, index: int, attrs: list[tuple[str, int]]) -> None:
    ipr.link("set", index=index, xdp={"attrs": attrs})


@contextmanager
def attached_xdp(ifname: str, prog_fd: int, mode: str = "generic", netns: str | None = None) -> Iterator[int]:
    """Attach XDP program `prog_fd` to `ifname` (in network namespace `netns`, if given).

    Yields the interface's index; the program is detached when the block ends,
    however it ends. `mode` is "generic" (any interface, in the network stack),
    "native"/"driver" (in the driver, if it supports XDP) or "offload".
    """
    if mode not in MODE_FLAGS:
        raise VdoctorError(f"XDP mode {mode!r} is not one of {', '.join(MODE_FLAGS)}.")
    flags = MODE_FLAGS[mode]
    with _rtnl(netns) as ipr:
        found = ipr.link_lookup(ifname=ifname)
        if not found:
            raise VdoctorError(f"There is no network interface named {ifname}.")
        index = found[0]
        try:
            _set_xdp(ipr, index, [("IFLA_XDP_FD", prog_fd), ("IFLA_XDP_FLAGS", flags | XDP_FLAGS_UPDATE_IF_NOEXIST)])
        except NetlinkError as error:
            if error.code in (errno.EBUSY, errno.EEXIST):
                raise VdoctorError(f"{ifname} already has an XDP program attached, and vdoctor does not replace it.") from None
            raise VdoctorError(f"The kernel refused to attach the program to {ifname} in {mode} mode: {os.strerror(error.code)}.") from None
        try:
            yield index
        finally:
            detach = [("IFLA_XDP_FD", -1), ("IFLA_XDP_EXPECTED_FD", prog_fd), ("IFLA_XDP_FLAGS", flags | XDP_FLAGS_REPLACE)]
            try:
                _set_xdp(ipr, index, detach)
            except NetlinkError as error:
                # ENODEV: the interface went away, and the program with it.
                # EEXIST: someone replaced our program; theirs stays.
                if error.code not in (errno.ENODEV, errno.EEXIST):
                    raise VdoctorError(f"Could not detach the XDP program from {ifname}: {os.strerror(error.code)}.") from None


def attached_xdp_prog_id(ifname: str, netns: str | None = None) -> int | None:
    """The id of the XDP program attached to `ifname`, or None when there is none."""
    with _rtnl(netns) as ipr:
        found = ipr.link_lookup(ifname=ifname)
        if not found:
            raise VdoctorError(f"There is no network interface named {ifname}.")
        xdp = ipr.get_links(found[0])[0].get_attr("IFLA_XDP")
    prog_id = xdp.get_attr("IFLA_XDP_PROG_ID") if xdp is not None else None
    return prog_id or None
