"""Plan: a declaration compiled once, the pure planner, orphans, overlaps, rule changes and saved plan files."""
