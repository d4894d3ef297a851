"""When int8 loses accuracy: the per-layer diagnosis (`deploytool diagnose`), the accuracy budget's
search (`convert --max-drop/--min-cosine/--min-agreement`) with its criteria and held-out
judging, and the fastest artifact within a budget (`deploytool optimize`)."""
