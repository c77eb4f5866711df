#!/usr/bin/env python3
"""Fails when modules of a crate import each other in a circle.

Every `crate::`, `super::` and `self::` path in a crate's non-test code is an edge from the file
that writes it to the file that defines what it names: paths walk module declarations (`mod x;`)
and follow re-exports (`pub use`, `pub(crate) use`), so `use crate::Error` points at `error.rs`,
not at `lib.rs`. Test code (`#[cfg(test)]` modules and `tests.rs` files) is left out, as are
comments. Usage: module_cycles.py [crate dir...] (default: every workspace member).
"""
import os
import re
import sys

MOD_RE = re.compile(r'^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+([A-Za-z_][A-Za-z0-9_]*)\s*;', re.M)
INLINE_MOD_RE = re.compile(r'^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+([A-Za-z_][A-Za-z0-9_]*)\s*\{', re.M)
USE_RE = re.compile(r'\b(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);', re.S)
PATH_RE = re.compile(r'\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)')


def strip_comments(text):
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith('//', i):
            j = text.find('\n', i)
            i = n if j < 0 else j
        elif text.startswith('/*', i):
            j = text.find('*/', i + 2)
            i = n if j < 0 else j + 2
        elif text[i] == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == '\\' else 1
            out.append('""')
            i = j + 1
        elif text.startswith("r#\"", i) or text.startswith('r"', i):
            hashes = 1 if text[i + 1] == '#' else 0
            end = '"' + '#' * hashes
            j = text.find(end, i + 2 + hashes)
            out.append('""')
            i = n if j < 0 else j + len(end)
        elif text[i] == "'" and i + 2 < n and (text[i + 2] == "'" or (text[i + 1] == '\\')):
            j = text.find("'", i + 2)
            out.append("' '")
            i = j + 1
        else:
            out.append(text[i])
            i += 1
    return ''.join(out)


def strip_test_blocks(text):
    """Drops `#[cfg(test)]` items (a `mod x;` line or a braced block)."""
    out = []
    i = 0
    while True:
        j = text.find('#[cfg(test)]', i)
        if j < 0:
            out.append(text[i:])
            return ''.join(out)
        out.append(text[i:j])
        k = j + len('#[cfg(test)]')
        semi = text.find(';', k)
        brace = text.find('{', k)
        if brace < 0 or (0 <= semi < brace):
            i = semi + 1
            continue
        depth, m = 0, brace
        while m < len(text):
            if text[m] == '{':
                depth += 1
            elif text[m] == '}':
                depth -= 1
                if depth == 0:
                    break
            m += 1
        i = m + 1


def expand_use(tree):
    """`a::{b, c::{d as e}}` -> [['a','b'], ['a','c','d']] (aliases keep the original path)."""
    # `x as y` keeps the original path: mark the alias before the spaces that delimit it go.
    tree = re.sub(r'\s+as\s+[A-Za-z_][A-Za-z0-9_]*', '', tree)
    tree = re.sub(r'\s+', '', tree)

    def split_top(s):
        parts, depth, cur = [], 0, ''
        for ch in s:
            if ch == '{':
                depth += 1
            elif ch == '}':
                depth -= 1
            if ch == ',' and depth == 0:
                parts.append(cur)
                cur = ''
            else:
                cur += ch
        if cur:
            parts.append(cur)
        return parts

    def go(prefix, s):
        brace = s.find('{')
        if brace < 0:
            return [prefix + [p for p in s.split('::') if p]]
        head = [p for p in s[:brace].split('::') if p]
        inner = s[brace + 1:s.rfind('}')]
        out = []
        for part in split_top(inner):
            out.extend(go(prefix + head, part))
        return out

    return go([], tree)


class Crate:
    def __init__(self, src):
        self.src = src
        self.modules = {}  # module path tuple -> file
        self.children = {}  # module path -> set of child names
        self.reexports = {}  # module path -> {name: absolute path list}
        self.texts = {}
        root = os.path.join(src, 'lib.rs')
        if not os.path.exists(root):
            root = os.path.join(src, 'main.rs')
        self.load((), root)

    def load(self, mod, path):
        self.modules[mod] = path
        raw = open(path, encoding='utf-8').read()
        text = strip_test_blocks(strip_comments(raw))
        self.texts[mod] = text
        self.children[mod] = set()
        base = os.path.dirname(path) if os.path.basename(path) in ('lib.rs', 'main.rs', 'mod.rs') \
            else os.path.join(os.path.dirname(path), os.path.basename(path)[:-3])
        for name in MOD_RE.findall(text):
            if name == 'tests':
                continue
            f1, f2 = os.path.join(base, name + '.rs'), os.path.join(base, name, 'mod.rs')
            f = f1 if os.path.exists(f1) else f2
            if os.path.exists(f):
                self.children[mod].add(name)
                self.load(mod + (name,), f)
        for name in INLINE_MOD_RE.findall(text):
            self.children[mod].add(name)  # inline modules count as part of this file
        self.reexports[mod] = {}
        for vis, tree in USE_RE.findall(text):
            if not vis:
                continue
            for p in expand_use(tree):
                if p and p[-1] not in ('*', 'self'):
                    self.reexports[mod][p[-1]] = self.absolute(mod, p)

    def absolute(self, mod, parts):
        if not parts:
            return None
        if parts[0] == 'crate':
            return list(parts[1:])
        if parts[0] in ('super', 'self'):
            cur = list(mod)
            rest = list(parts)
            while rest and rest[0] in ('super', 'self'):
                if rest[0] == 'super':
                    cur = cur[:-1]
                rest = rest[1:]
            return cur + rest
        # a path relative to this module (a child module or a re-export) or another crate
        if parts[0] in self.children.get(mod, ()):
            return list(mod) + list(parts)
        return None

    def resolve(self, abspath, depth=0):
        """The module (tuple) that defines what `abspath` names."""
        cur = ()
        for i, seg in enumerate(abspath):
            if seg in self.children.get(cur, ()) and cur + (seg,) in self.modules:
                cur = cur + (seg,)
                continue
            target = self.reexports.get(cur, {}).get(seg)
            if target is not None and depth < 20:
                return self.resolve(target + list(abspath[i + 1:]), depth + 1)
            return cur
        return cur

    def edges(self):
        out = {}
        for mod, text in self.texts.items():
            targets = set()
            for kind, rest in PATH_RE.findall(text):
                parts = [kind] + [p for p in rest.split('::') if p]
                abspath = self.absolute(mod, parts)
                if abspath is None:
                    continue
                targets.add(self.resolve(abspath))
            for vis, tree in USE_RE.findall(text):
                for p in expand_use(tree):
                    if p and p[-1] == '*':
                        p = p[:-1]
                    if p and p[0] in self.children.get(mod, ()):
                        targets.add(self.resolve(list(mod) + p))
                    elif p and p[0] in ('crate', 'super', 'self'):
                        abspath = self.absolute(mod, p)
                        if abspath is not None:
                            targets.add(self.resolve(abspath))
            # paths through a child module written without `self::`
            for child in self.children.get(mod, ()):
                for m in re.finditer(r'(?<![:\w])' + child + r'((?:::[A-Za-z_][A-Za-z0-9_]*)+)', text):
                    parts = [child] + [p for p in m.group(1).split('::') if p]
                    targets.add(self.resolve(list(mod) + parts))
            targets.discard(mod)
            # a module's own submodules declared inline are part of it
            out[mod] = {t for t in targets if t in self.modules}
        return out


def cycles(edges):
    index, low, stack, on, comps = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10000)

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(comp)

    for v in list(edges):
        if v not in index:
            strong(v)
    return comps


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    dirs = sys.argv[1:]
    if not dirs:
        members = re.search(r'members\s*=\s*\[([^\]]*)\]', open(os.path.join(root, 'Cargo.toml')).read())
        dirs = [os.path.join(root, m) for m in re.findall(r'"([^"]+)"', members.group(1))]
    bad = 0
    for d in dirs:
        src = os.path.join(d, 'src')
        if not os.path.isdir(src):
            continue
        crate = Crate(src)
        edges = crate.edges()
        for comp in cycles(edges):
            bad += 1
            names = sorted(os.path.relpath(crate.modules[m], root) for m in comp)
            detail = []
            for m in comp:
                for t in sorted(edges[m]):
                    if t in comp:
                        detail.append(f'    {os.path.relpath(crate.modules[m], root)} -> '
                                      f'{os.path.relpath(crate.modules[t], root)}')
            print(f'module cycle in {os.path.relpath(d, root)}: ' + ', '.join(names))
            print('\n'.join(detail))
    if bad:
        print(f'{bad} module cycle(s)')
        sys.exit(1)
    print('no module cycles')


if __name__ == '__main__':
    main()
