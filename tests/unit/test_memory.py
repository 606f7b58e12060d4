"""Process memory: forked workers keep sharing the pages they inherit.

Each check runs in a fresh interpreter so that the test process's own
heap and garbage collector settings are left alone.
"""

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith('linux'),
                                reason='reads /proc/self/smaps_rollup')

PRIVATE_DIRTY = """
def private_dirty_mb():
    with open('/proc/self/smaps_rollup') as f:
        return sum(int(line.split()[1]) for line in f
                   if line.startswith('Private_Dirty:')) / 1024
"""


def _run(body):
    code = PRIVATE_DIRTY + textwrap.dedent(body)
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    return float(out.split()[-1])


def test_garbage_collection_in_a_worker_leaves_shared_pages_alone():
    copied = _run("""
        import gc, os
        import glance_import.api.app  # the heap a worker inherits
        from glance_import.cmd import common
        common.freeze_for_fork()
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            before = private_dirty_mb()
            gc.collect()
            os.write(write, str(private_dirty_mb() - before).encode())
            os._exit(0)
        os.close(write)
        result = os.read(read, 100).decode()
        os.waitpid(pid, 0)
        print(result)
    """)
    # Unfrozen, the collection writes to every object: about 40 MB.
    assert copied < 5, '%.1f MB copied by one collection' % copied
