"""Glance options of features not served here are named at start-up."""

import logging

from oslo_config import cfg

from glance_import import profiler
from glance_import import unsupported_options


def _conf(tmp_path, text, extra_dir_text=None):
    path = tmp_path / 'glance-api.conf'
    path.write_text(text)
    args = ['--config-file', str(path)]
    if extra_dir_text is not None:
        conf_dir = tmp_path / 'glance-api.conf.d'
        conf_dir.mkdir()
        (conf_dir / '10-digest.conf').write_text(extra_dir_text)
        args += ['--config-dir', str(conf_dir)]
    conf = cfg.ConfigOpts()
    conf(args, project='glance', default_config_files=[])
    return conf, path


def test_each_unsupported_setting_is_found_with_its_file(tmp_path,
                                                        monkeypatch):
    # [profiler] is reported where osprofiler is not installed.
    monkeypatch.setattr(profiler, 'available', lambda: False)
    conf, path = _conf(
        tmp_path,
        '[DEFAULT]\nimage_cache_dir = /var/cache/glance\n'
        'metadata_encryption_key = 0123456789abcdef\n'
        'workers = 2\n[profiler]\nenabled = true\n'
        '[import_filtering_opts]\nallowed_ports = []\n',
        extra_dir_text='[DEFAULT]\ndigest_algorithm = sha256\n')
    found = unsupported_options.unsupported_settings(conf)
    names = sorted((section, name) for _, section, name, _ in found)
    assert names == [('DEFAULT', 'digest_algorithm'),
                     ('DEFAULT', 'metadata_encryption_key'),
                     ('profiler', 'enabled')]
    files = {name: where for where, _, name, _ in found}
    assert files['metadata_encryption_key'] == str(path)
    assert files['digest_algorithm'].endswith('10-digest.conf')


def test_a_file_of_supported_options_gives_no_warning(tmp_path, caplog):
    conf, _ = _conf(tmp_path, '[DEFAULT]\nenabled_import_methods = '
                              '[glance-direct]\n[database]\n'
                              'connection = sqlite://\n')
    log = logging.getLogger('test_unsupported')
    with caplog.at_level(logging.WARNING, logger='test_unsupported'):
        unsupported_options.warn_unsupported(conf, log)
    assert caplog.records == []


def test_warning_names_file_option_and_feature(tmp_path, caplog):
    conf, path = _conf(tmp_path,
                       '[DEFAULT]\nmetadata_encryption_key = k\n')
    log = logging.getLogger('test_unsupported')
    with caplog.at_level(logging.WARNING, logger='test_unsupported'):
        unsupported_options.warn_unsupported(conf, log)
    [record] = caplog.records
    message = record.getMessage()
    assert str(path) in message
    assert '[DEFAULT] metadata_encryption_key' in message
    assert 'encryption of location metadata' in message


def test_profiler_settings_are_served_with_osprofiler(tmp_path,
                                                     monkeypatch):
    monkeypatch.setattr(profiler, 'available', lambda: True)
    conf, _ = _conf(tmp_path, '[profiler]\nenabled = true\n')
    assert unsupported_options.unsupported_settings(conf) == []


def test_without_osprofiler_the_filter_passes_through(monkeypatch):
    monkeypatch.setattr(profiler, 'osprofiler', None)
    app = object()
    assert profiler.filter_factory({})(app) is app
    assert profiler.list_opts() == []
