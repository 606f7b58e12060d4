"""Process memory: freed data buffers go back, forked workers share pages.

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


def test_freed_data_chunks_are_returned_to_the_system():
    # Threads allocate from their own malloc arenas, where glibc keeps
    # freed memory once a large block has raised its mmap threshold.
    growth = _run("""
        import threading
        from glance_import.cmd import common
        common.keep_heap_small()

        def transfer():
            body = b'b' * (8 << 20)
            del body
            chunks = [b'c' * (1 << 20) for _ in range(16)]
            del chunks

        before = private_dirty_mb()
        for _ in range(4):
            t = threading.Thread(target=transfer)
            t.start()
            t.join()
        print(private_dirty_mb() - before)
    """)
    assert growth < 4, '%.1f MB of freed chunks kept' % growth


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
