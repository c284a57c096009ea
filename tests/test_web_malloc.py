"""``limit_arenas``: a real glibc process, its arenas counted with ``malloc_info`` after 12 threads
each allocated, with and without the cap; and an existing ``MALLOC_ARENA_MAX`` is left alone."""

from __future__ import annotations

import ctypes.util
import os
import platform
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")

#: prints whether the cap applied, MALLOC_ARENA_MAX afterwards and the number of arenas in use
CHILD = textwrap.dedent("""
    import ctypes, ctypes.util, os, re, sys, tempfile, threading
    from moodtune.web.malloc import limit_arenas
    applied = limit_arenas(2) if sys.argv[1] == "cap" else None
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.malloc.restype, libc.fopen.restype = ctypes.c_void_p, ctypes.c_void_p
    libc.malloc_info.argtypes, libc.fclose.argtypes = [ctypes.c_int, ctypes.c_void_p], [ctypes.c_void_p]
    go, held = threading.Barrier(12), []
    def work():
        go.wait()  # all 12 threads alive at once, so none reuses another's arena
        held.append(libc.malloc(4096))
    threads = [threading.Thread(target=work) for _ in range(12)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    with tempfile.NamedTemporaryFile(suffix=".xml") as f:
        fp = libc.fopen(f.name.encode(), b"w")
        libc.malloc_info(0, fp)
        libc.fclose(fp)
        arenas = len(re.findall(r"<heap nr=", open(f.name).read()))
    print(applied, os.environ.get("MALLOC_ARENA_MAX"), arenas)
""")


def child(mode: str, **env: str) -> list[str]:
    full = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"} | env
    out = subprocess.run([sys.executable, "-c", CHILD, mode], env=full, capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.split()


def test_the_cap_bounds_the_arenas_that_threads_create():
    assert ctypes.util.find_library("c")
    applied, env, uncapped = child("none")
    assert (applied, env) == ("None", "None") and int(uncapped) > 4  # glibc's default: a new arena per thread, up to 8 per core
    applied, env, capped = child("cap")
    assert (applied, env) == ("True", "2") and int(capped) <= 2


def test_an_existing_malloc_arena_max_is_left_alone():
    assert child("cap", MALLOC_ARENA_MAX="3")[:2] == ["False", "3"]
