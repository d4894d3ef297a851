"""The whole job (`deploytool run`): train, convert, verify, bench, bundle and the report, each
step recorded so a run resumes."""
