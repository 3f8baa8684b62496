"""Host facts: cgroup limits (v1, v2) and the CPU model, from recorded /proc and /sys trees."""

from __future__ import annotations

from pathlib import Path

from dgx_spark_mcp.hardware.host import probe_host, read_cgroup_limits, read_cpu_model


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_cgroup_v2_quota_and_memory_limit(tmp_path: Path) -> None:
    _write(tmp_path, "fs/cgroup/cpu.max", "400000 100000\n")
    _write(tmp_path, "fs/cgroup/memory.max", str(16 * 1024**3) + "\n")
    limits = read_cgroup_limits(tmp_path)
    assert (limits.version, limits.cpu_limit_cores, limits.memory_limit_gib) == (2, 4.0, 16.0)


def test_cgroup_v2_unlimited(tmp_path: Path) -> None:
    _write(tmp_path, "fs/cgroup/cpu.max", "max 100000\n")
    _write(tmp_path, "fs/cgroup/memory.max", "max\n")
    limits = read_cgroup_limits(tmp_path)
    assert (limits.version, limits.cpu_limit_cores, limits.memory_limit_gib) == (2, None, None)


def test_cgroup_v1_quota_and_unlimited_memory(tmp_path: Path) -> None:
    _write(tmp_path, "fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "150000\n")
    _write(tmp_path, "fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n")
    _write(tmp_path, "fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n")
    limits = read_cgroup_limits(tmp_path)
    assert (limits.version, limits.cpu_limit_cores, limits.memory_limit_gib) == (1, 1.5, None)


def test_no_cgroup_files_means_no_limits(tmp_path: Path) -> None:
    assert read_cgroup_limits(tmp_path).version is None


def test_cgroup_limits_shrink_the_effective_host(tmp_path: Path) -> None:
    _write(tmp_path, "fs/cgroup/cpu.max", "50000 100000\n")
    _write(tmp_path, "fs/cgroup/memory.max", str(512 * 1024**2) + "\n")
    host = probe_host(sys_root=tmp_path)
    assert host.effective_cpu_cores == 0.5
    assert host.effective_memory_gib == 0.5


def test_cpu_model_on_x86_and_on_arm(tmp_path: Path) -> None:
    _write(tmp_path, "x86/cpuinfo", "processor\t: 0\nmodel name\t: AMD EPYC 7742 64-Core Processor\n")
    assert read_cpu_model(tmp_path / "x86") == "AMD EPYC 7742 64-Core Processor"
    _write(tmp_path, "arm/cpuinfo", "processor\t: 0\nCPU implementer\t: 0x41\nCPU part\t: 0xd85\n")
    assert read_cpu_model(tmp_path / "arm") == "Arm implementer 0x41 part 0xd85"
    assert read_cpu_model(tmp_path / "missing") is None


def test_real_host_probe_reads_this_machine() -> None:
    host = probe_host()
    assert host.cpu_logical_cores >= 1
    assert 0 < host.effective_memory_gib <= host.memory_total_gib
    assert host.architecture
    assert all(d.total_gib > 0 for d in host.disks)
    assert all(n.name != "lo" for n in host.network)
