#!/usr/bin/env python3
"""Checks deploy/compose.yaml against the Compose Specification where Docker Compose itself
cannot run (no container engine on the test machines). YAML merge keys (`<<: *anchor`) are
resolved first, as Compose does, then the `compose-spec` package (PyPI, bindings of the Rust
`compose_spec` crate) parses every field with its types and checks that referenced networks,
volumes, secrets and configs are defined. Exit status 0 when valid; the error otherwise.

    python3 deploy/check-compose.py [deploy/compose.yaml]
"""
import json
import sys
from pathlib import Path

import compose_spec
import yaml

path = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("compose.yaml"))
doc = yaml.safe_load(path.read_text(encoding="utf-8"))
compose = compose_spec.PyCompose.from_json(json.dumps(doc))
compose.validate()
print(f"{path}: valid; services: {', '.join(sorted(compose.service_names()))}")
