"""The ``/mnt/data`` quota, watched while a call runs.

:func:`quota_watchdog` makes the probe the kernel channel polls during a call: it
measures the drive (the host folder, or the data volume of an engine elsewhere) and
names the limit the code overran, ``"quota"`` (bytes) or ``"files"`` (entries), so the
call is stopped with that limit named. What the drive held before the call (input files)
is allowed, however much it is.
"""

from __future__ import annotations

import asyncio

from gptoss_agent.sandbox.channel import Watchdog
from gptoss_agent.sandbox.datadir import DataDir
from gptoss_agent.sandbox.limits import MIB, SandboxLimits
from gptoss_agent.sandbox.volume import VolumeDrive


async def quota_watchdog(data: DataDir, volume: VolumeDrive | None, limits: SandboxLimits,
                         container_id: str) -> Watchdog:
    """The probe of one call: ``None`` while within the limits, else the limit's name."""
    quota = limits.data_mb * MIB
    baseline, entries = await asyncio.to_thread(data.measure)
    allowed, allowed_entries = max(quota, baseline), max(limits.data_files, entries)

    async def watchdog() -> str | None:
        if volume is None:
            used = await asyncio.to_thread(data.measure, allowed, allowed_entries)
        else:
            measured = await asyncio.to_thread(volume.usage, container_id)
            if measured is None:
                return None
            used = measured
        over_bytes, over_entries = used[0] / allowed, used[1] / allowed_entries
        if max(over_bytes, over_entries) <= 1:
            return None
        # Both may be over by the time a probe looks (each entry counts 1 KiB): name
        # the limit the code overran most, which is what it was doing.
        return "files" if over_entries >= over_bytes else "quota"

    return watchdog
