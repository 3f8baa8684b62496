"""Hardware detection: NVML GPUs, host facts, named profiles, GPU availability."""

from .availability import Availability, GpuAvailability, check_availability
from .models import HardwareSnapshot
from .profiles import HardwareProfile, get_profile, list_profiles, profile_snapshot
from .snapshot import detect, snapshot_for

__all__ = [
    "Availability",
    "GpuAvailability",
    "HardwareProfile",
    "HardwareSnapshot",
    "check_availability",
    "detect",
    "get_profile",
    "list_profiles",
    "profile_snapshot",
    "snapshot_for",
]
