"""Declarations: loading YAML/JSON with positions, the JSON Schema, semantic checks, and the cloud's rule grammar,
fileid templates and source globs. Pure except for reading the files it is given."""
