#!/usr/bin/python3
"""check_module_deps.py: module boundaries that the build alone does not enforce (one
library holds every module). The signer's protocol client (src/crypto) must not depend on
the signer process (src/signer): a process that only asks for signatures never links the
server (issue 9; the embedded private signer lives in src/signer/signer_local.c)."""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1])
bad = []
for f in sorted((root / 'src' / 'crypto').glob('*.[ch]')):
    text = f.read_text()
    for m in re.finditer(r'#include\s+"signer/[^"]+"', text):
        bad.append(f'{f.relative_to(root)}: {m.group(0)}')
    for name in ('signer_serve_fd', 'signer_run', 'signer_home_prepare'):
        if re.search(r'\b' + name + r'\s*\(', text) and f.name != 'signer.h':
            bad.append(f'{f.relative_to(root)}: calls {name} (the server)')
for b in bad:
    print('module boundary broken:', b)
sys.exit(1 if bad else 0)
