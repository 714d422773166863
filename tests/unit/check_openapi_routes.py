#!/usr/bin/python3
"""check_openapi_routes.py: every route of the operator listener is in docs/openapi.yaml
and every route documented there is a route (issue 15). The routes are the table the
api dispatches from (ar_routes in src/api/api_resource.c: the resource routes and the
ones api_operator.c serves); the integration test api_resources.sh calls each documented
route on a running api."""
import re
import sys

import yaml

src = sys.argv[1]
doc = yaml.safe_load(open(src + "/docs/openapi.yaml"))
assert doc.get("openapi", "").startswith("3.1"), "docs/openapi.yaml is not OpenAPI 3.1"
documented = set()
for path, item in doc["paths"].items():
    for method in item:
        if method in ("get", "put", "post", "delete", "patch", "head", "options"):
            documented.add((method.upper(), path))
code = open(src + "/src/api/api_resource.c").read()
table = code[code.index("static const struct ar_route ar_routes[]"):]
table = table[:table.index("};")]
routes = set(re.findall(r'\{ \{ "(GET|POST)", "(/v1/[^"]*)" \}', table))
ok = True
for m, p in sorted(routes - documented):
    print(f"route {m} {p} is not documented in docs/openapi.yaml")
    ok = False
for m, p in sorted(documented - routes):
    print(f"docs/openapi.yaml documents {m} {p}, which the api does not route")
    ok = False
if len(routes) < 20:
    print(f"only {len(routes)} routes found in ar_routes: the table format changed?")
    ok = False
print(f"{len(routes)} routes, {len(documented)} documented")
sys.exit(0 if ok else 1)
