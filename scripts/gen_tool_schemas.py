"""Write data/tool-schemas.json: every tool's name, title, description, schemas and annotations.

    python scripts/gen_tool_schemas.py [--check]

The server registers its tools from this file instead of building them from their functions at
start (src/dgx_spark_mcp/tools/catalog.py says why).  Run it after changing a tool's signature,
docstring, result model or annotations; tests/test_tool_schemas.py fails until you do.  ``--check``
exits 1 when the file is out of date instead of writing it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from dgx_spark_mcp.app import App
from dgx_spark_mcp.settings import Settings
from dgx_spark_mcp.tools.catalog import SCHEMAS_FILE, manifest, render

TARGET = Path(__file__).resolve().parent.parent / "data" / SCHEMAS_FILE


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file differs from the tools, write nothing")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:  # the schemas do not depend on settings; nothing is written there
        text = render(manifest(App(settings=Settings(home=Path(home)))))
    if args.check:
        same = TARGET.exists() and TARGET.read_text(encoding="utf-8") == text
        print(f"{TARGET.name}: {'up to date' if same else 'out of date: run python scripts/gen_tool_schemas.py'}",
              file=sys.stderr)
        return 0 if same else 1
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET} ({len(text):,} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
