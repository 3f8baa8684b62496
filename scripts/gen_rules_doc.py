"""Write docs/rules.md from the rule registry (data/best-practices.json).

    python scripts/gen_rules_doc.py

The page is never edited by hand: tests/optimizers/test_rules_registry.py renders it in memory
and fails when the committed file differs, naming this script.
"""

from __future__ import annotations

import sys
from pathlib import Path

from dgx_spark_mcp.optimizers.rules import render_rules_markdown, rule_book

DOC = Path(__file__).resolve().parent.parent / "docs" / "rules.md"


def main() -> int:
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(render_rules_markdown(rule_book()), encoding="utf-8")
    print(f"wrote {DOC} ({len(rule_book().rules)} rules)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
