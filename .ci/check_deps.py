#!/usr/bin/env python3
"""Checks the workspace's dependencies, failing the run on either of:

1. The crate dependency rule of DESIGN.md: each crate may depend (normal or build) only on the
   workspace crates its row allows; dev-dependencies may also name test-support crates. Read
   from `cargo metadata`, so an arrow pointing the wrong way fails however it got there.
2. An unused dependency: a normal or build dependency that no source file of the crate's
   library or binaries names, or a dev-dependency that no file of the crate names at all
   (what `cargo machete` checks, without installing it).
"""
import json
import os
import re
import subprocess
import sys

# crate -> workspace crates it may depend on (DESIGN.md, "Crates").
LANGUAGES = {'promql', 'logql', 'traceql'}
ALLOWED = {
    'common': set(),
    'storage': {'common'},
    'ingest': {'common', 'storage'},
    'promql': {'common'},
    'logql': {'common'},
    'traceql': {'common'},
    'promqltest': {'common'} | LANGUAGES,
    'query': {'common', 'storage'} | LANGUAGES,
    'alerting': {'common', 'query'} | LANGUAGES,
    'ui': set(),
    'server': None,  # everything
    'benches': None,
    'integration-tests': None,
}
TEST_SUPPORT = {'promqltest'}

# Dependencies used without their name in the source (codegen features, allocators named in a
# different form are found by the usual search already).
IMPLICIT = {
    # tonic's generated service code calls tonic_prost's codec through tonic's `codegen`.
    ('ingest', 'tonic-prost'),
}


def metadata(root):
    out = subprocess.run(['cargo', 'metadata', '--format-version', '1', '--no-deps'],
                         cwd=root, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def rust_files(dirs):
    for d in dirs:
        for base, _, files in os.walk(d):
            for f in files:
                if f.endswith('.rs'):
                    yield os.path.join(base, f)


def names_in(files):
    text = []
    for f in files:
        with open(f, encoding='utf-8') as fh:
            text.append(fh.read())
    return '\n'.join(text)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    meta = metadata(root)
    members = {p['name'] for p in meta['packages']}
    problems = []
    for pkg in meta['packages']:
        name = pkg['name']
        crate_dir = os.path.dirname(pkg['manifest_path'])
        if name not in ALLOWED:
            problems.append(f'{name}: not in the crate table of .ci/check_deps.py (DESIGN.md)')
            continue
        allowed = ALLOWED[name]
        src_dirs = [os.path.join(crate_dir, 'src')]
        all_dirs = src_dirs + [os.path.join(crate_dir, d) for d in ('tests', 'benches', 'examples')]
        src_text = names_in(rust_files(src_dirs))
        all_text = names_in(rust_files(all_dirs))
        for dep in pkg['dependencies']:
            dep_name = dep['name']
            kind = dep['kind'] or 'normal'
            if dep_name in members and allowed is not None:
                ok = dep_name in allowed or (kind == 'dev' and dep_name in TEST_SUPPORT)
                if not ok:
                    problems.append(f'{name} -> {dep_name} ({kind}): not allowed by the '
                                    f'dependency rule (DESIGN.md); allowed: {sorted(allowed)}')
            if (name, dep_name) in IMPLICIT:
                continue
            ident = (dep.get('rename') or dep_name).replace('-', '_')
            pattern = re.compile(r'(?<![\w:])' + re.escape(ident) + r'\s*::|\buse\s+' +
                                 re.escape(ident) + r'\b|extern\s+crate\s+' + re.escape(ident) +
                                 r'|"' + re.escape(ident) + r'"')
            text = all_text if kind == 'dev' else src_text
            if not pattern.search(text):
                where = 'any file of the crate' if kind == 'dev' else 'src/'
                problems.append(f'{name}: {kind} dependency {dep_name} is not used in {where}')
    for p in problems:
        print(p)
    if problems:
        print(f'{len(problems)} dependency problem(s)')
        sys.exit(1)
    print(f'dependencies: rule holds and none unused in {len(meta["packages"])} crates')


if __name__ == '__main__':
    main()
