"""Record this machine's NVML answers as a test fixture.

    python scripts/record_nvml.py tests/fixtures/nvml/<machine>.json --machine "DGX H100, DGX OS 6.2"

Runs the same probe as ``detect_hardware`` through the real pynvml, wrapped so every call
and its answer (or NVML error code) is written down; tests replay the file with no GPU.
Nothing is sent anywhere.  Check the file for anything you would not publish (process ids,
UUIDs) before committing it.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

from dgx_spark_mcp.hardware.nvml import probe_gpus
from dgx_spark_mcp.hardware.nvml_recording import RecordingNvml


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", type=Path, help="where to write the recording (JSON)")
    parser.add_argument("--machine", required=True, help="what the machine is, for the provenance")
    args = parser.parse_args()

    recorder = RecordingNvml()
    result = probe_gpus(recorder)
    if not result.stack.available:
        print(f"no GPU stack here: {result.stack.reason}", file=sys.stderr)
        return 1
    data = {
        "machine": args.machine,
        "command": "python scripts/record_nvml.py " + " ".join(sys.argv[1:]),
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "provenance": f"recorded on {platform.node()} ({platform.machine()}) through the real NVML",
        "calls": recorder.calls,
    }
    args.output.write_text(json.dumps(data, indent=1) + "\n")
    print(f"{len(recorder.calls)} NVML calls, {len(result.gpus)} GPU(s) written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
