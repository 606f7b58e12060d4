"""The shipped samples are what the generator produces today."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def test_generated_samples_are_current():
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'tools', 'generate_samples.py'),
         '--check'], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, (
        'run "python tools/generate_samples.py": %s%s'
        % (result.stdout, result.stderr))


def test_shipped_config_has_the_quick_start_values():
    with open(os.path.join(ROOT, 'etc', 'glance-api.conf')) as f:
        lines = f.read().splitlines()
    for line in ('enable_image_import = true',
                 'node_staging_uri = file://$state_path/staging',
                 'connection = sqlite:///$state_path/glance_import.sqlite',
                 'filesystem_store_datadir = $state_path/images'):
        assert line in lines, line
