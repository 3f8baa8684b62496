"""analyze_query_plan: plan text, JSON or SQL parsed into a tree, summarised, and checked by the plan rules."""
