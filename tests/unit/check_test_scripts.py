#!/usr/bin/python3
"""check_test_scripts.py: rules the integration scripts must keep so that they can run
next to each other (several builds or checkouts testing on one machine, a developer's
demo home running) and on a CI machine whose PATH is not Debian's.

1. Listeners. `torwart init` writes the fixed defaults of src/base/home.h
   (TW_DEFAULT_WAN_LISTEN 127.0.0.1:7443, TW_DEFAULT_API_LISTEN 127.0.0.1:7080,
   TW_DEFAULT_API_TLS_LISTEN 127.0.0.1:8445) for every listener it is not given. Two tests
   whose daemons listen on such a default collide, and the second one's api (or wan)
   does not come up. So in a script that starts daemons, every `init` that is expected
   to succeed names all three listeners (each on a port of lib.sh's free_port).
2. The interpreter. `python3` first in PATH may be a version manager's shim without
   Debian's modules (zeep, ldap3, aiosmtpd...): scripts call /usr/bin/python3 (also in
   their heredocs' commands and the helpers' interpreter lines), and the meson tests
   find that one.

Usage: check_test_scripts.py SOURCE_ROOT
"""
import glob
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "."
problems = []

# ---- 1. listeners
LISTEN_OPTS = ("--wan-listen", "--api-listen", "--api-tls-listen")
INIT = re.compile(r'(\$TORWART\b|\$\{TORWART\}|[/\s]torwart)"?\s+init\b')
DAEMON = re.compile(r'\$\{?TORWARTD\b|/usr/bin/torwartd\b')
# A run expected to fail: nothing listens afterwards.
REFUSED = re.compile(r'^\s*(check_fails|expect_fail\w*)\b')

scripts = sorted(glob.glob(os.path.join(root, "tests/integration/*.sh")))
if len(scripts) < 20:
    sys.exit(f"found only {len(scripts)} integration scripts under {root}: wrong root?")
inits_seen = 0
for path in scripts:
    text = open(path, encoding="utf-8").read()
    # One logical line per command: continuation lines joined.
    lines = re.sub(r"\\\n\s*", " ", text).split("\n")
    starts_daemons = any(DAEMON.search(l) for l in lines if not l.lstrip().startswith("#"))
    for line in lines:
        if line.lstrip().startswith("#") or not INIT.search(line) or "--home" not in line:
            continue
        inits_seen += 1
        if not starts_daemons or REFUSED.search(line):
            continue
        missing = [o for o in LISTEN_OPTS if o not in line]
        if missing:
            problems.append(f"{os.path.relpath(path, root)}: `init` without {', '.join(missing)} "
                            f"in a script that starts daemons (the default port collides with "
                            f"other tests; give it \"127.0.0.1:$(free_port)\"): {line.strip()[:120]}")
if inits_seen < 20:
    sys.exit(f"found only {inits_seen} `torwart init` lines: the pattern no longer matches?")

# ---- 2. the interpreter
BARE = re.compile(r"(?<![\w/.-])python3(?![\w.-])")
files = sorted(set(glob.glob(os.path.join(root, "tests/**/*.sh"), recursive=True) +
                   glob.glob(os.path.join(root, "tests/**/*.py"), recursive=True) +
                   glob.glob(os.path.join(root, "tests/**/meson.build"), recursive=True)))
for path in files:
    rel = os.path.relpath(path, root)
    if os.path.samefile(path, __file__):
        continue   # this file names what it looks for
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        if n == 1 and line.startswith("#!"):
            if "python" in line and not line.startswith("#!/usr/bin/python3"):
                problems.append(f"{rel}:1: interpreter line {line.strip()!r}: use #!/usr/bin/python3")
            continue
        code = line
        if line.lstrip().startswith("#"):
            continue
        if path.endswith(".py"):
            # Python source: only a python3 inside a command string would matter.
            code = " ".join(re.findall(r"['\"]([^'\"]*)['\"]", line))
        if BARE.search(code):
            problems.append(f"{rel}:{n}: bare python3 (use /usr/bin/python3): {line.strip()[:120]}")

for p in problems:
    print(p)
print(f"{len(scripts)} integration scripts, {inits_seen} init lines, {len(files)} files "
      f"checked for the interpreter: {len(problems)} problem(s)")
sys.exit(1 if problems else 0)
