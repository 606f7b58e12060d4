"""web-download URI filtering, name resolution and address pinning."""

import socket

import pytest
from oslo_config import cfg

from glance_import import config
from glance_import import exception
from glance_import.importer import uri_filter


@pytest.fixture
def conf():
    conf = cfg.ConfigOpts()
    config.register_opts(conf)
    conf([], default_config_files=[])
    return conf


@pytest.fixture
def dns(monkeypatch):
    """A fake resolver: {name: [addresses]}; unknown names fail."""
    table = {}

    def getaddrinfo(host, port, *args, **kwargs):
        name = host.rstrip('.') if host.endswith('.') else host
        try:
            addresses = table[name]
        except KeyError:
            raise socket.gaierror(socket.EAI_NONAME, 'unknown')
        return [(socket.AF_INET6 if ':' in a else socket.AF_INET,
                 socket.SOCK_STREAM, 6, '', (a, port)) for a in addresses]
    monkeypatch.setattr(socket, 'getaddrinfo', getaddrinfo)
    return table


def opts(conf, **values):
    for name, value in values.items():
        conf.set_override(name, value, group='import_filtering_opts')


def refused(conf, uri, reason=''):
    """Glance's message, then the rule that refused *uri* in brackets."""
    with pytest.raises(uri_filter.FilterError) as info:
        uri_filter.check_uri(conf, uri)
    assert info.value.status == 400
    prefix = 'URI for web-download does not pass filtering: %s (' % uri
    assert info.value.msg.startswith(prefix), info.value.msg
    assert info.value.msg.endswith(')')
    assert reason in info.value.msg, info.value.msg


@pytest.mark.parametrize('host, expected', [
    ('127.0.0.1', '127.0.0.1'),
    ('[::1]', '::1'),
    ('[0:0:0:0:0:0:0:1]', '::1'),
    ('Example.COM.', 'example.com'),
    ('127.000.000.001', None),
    ('0x7f.0.0.1', None),
    ('2130706433', None),
    ('127.1', None),
    ('017700000001', None),
    ('', None),
    (None, None),
])
def test_normalise_host(host, expected):
    assert uri_filter.normalise_host(host) == expected


def test_public_name_accepted_and_pinned(conf, dns):
    dns['images.example.com'] = ['198.51.100.7']
    target = uri_filter.check_uri(conf, 'https://images.example.com/a?b=c')
    assert target.addresses == ['198.51.100.7']
    assert (target.host, target.port, target.path) == (
        'images.example.com', 443, '/a?b=c')


@pytest.mark.parametrize('address', [
    '127.0.0.1', '127.8.9.10', '169.254.169.254', '0.0.0.0', '224.0.0.1',
    '240.0.0.1', '::1', '::', 'fe80::1', '::ffff:127.0.0.1',
    '::ffff:169.254.169.254', 'ff02::1'])
def test_names_resolving_to_internal_addresses_refused(conf, dns, address):
    dns['evil.example.com'] = [address]
    refused(conf, 'http://evil.example.com/image',
            "host 'evil.example.com' resolves only to refused addresses")


def test_internal_addresses_dropped_from_mixed_answers(conf, dns):
    dns['mixed.example.com'] = ['127.0.0.1', '203.0.113.5']
    target = uri_filter.check_uri(conf, 'http://mixed.example.com/x')
    assert target.addresses == ['203.0.113.5']


def test_private_ranges_allowed(conf, dns):
    dns['mirror.internal.example'] = ['10.1.2.3']
    target = uri_filter.check_uri(conf, 'http://mirror.internal.example/x')
    assert target.addresses == ['10.1.2.3']


def test_allowed_host_may_be_loopback(conf, dns):
    dns['localhost'] = ['127.0.0.1']
    opts(conf, allowed_hosts=['localhost'])
    assert uri_filter.check_uri(
        conf, 'http://localhost/x').addresses == ['127.0.0.1']
    refused(conf, 'http://127.0.0.1/x',
            "host '127.0.0.1' is not in allowed_hosts")


def test_unresolvable_refused(conf, dns):
    refused(conf, 'http://nowhere.example.com/x',
            "host 'nowhere.example.com' does not resolve")


@pytest.mark.parametrize('uri, reason', [
    ('ftp://198.51.100.7/x', "scheme 'ftp' is not in allowed_schemes"),
    ('file:///etc/passwd', "scheme 'file' is not in allowed_schemes"),
    ('//198.51.100.7/x', 'the URI has no scheme'),
    ('http:///x', "host None is not a name or a canonical address"),
    ('http://198.51.100.7:8080/x', 'port 8080 is not in allowed_ports'),
    ('http://198.51.100.7:0/x', 'port 0 is not in allowed_ports'),
    ('http://198.51.100.7:99999/x', 'the URI is malformed'),
    ('gopher://198.51.100.7/x', "scheme 'gopher' is not in allowed_schemes"),
    ('http://0x7f.0.0.1/x',
     "host '0x7f.0.0.1' is not a name or a canonical address"),
])
def test_scheme_host_port_rules(conf, dns, uri, reason):
    refused(conf, uri, reason)


@pytest.mark.parametrize('uri', [
    'http://exa\x00mple.com/x', 'http://example.com/\x00',
    'http://example.com/a b', 'http://example.com/\x7f',
    'http://example.com/x\r\nHost: evil', 'http://exa\tmple.com/',
])
def test_spaces_and_controls_refused_before_parsing(conf, dns, uri):
    dns['example.com'] = ['198.51.100.7']
    refused(conf, uri, 'the URI contains spaces or control characters')


def test_deny_lists_name_the_rule(conf, dns):
    opts(conf, allowed_schemes=[], disallowed_schemes=['https'],
         allowed_ports=[], disallowed_ports=[81],
         disallowed_hosts=['198.51.100.9'])
    refused(conf, 'https://198.51.100.7/x',
            "scheme 'https' is in disallowed_schemes")
    refused(conf, 'http://198.51.100.7:81/x', 'port 81 is in disallowed_ports')
    refused(conf, 'http://198.51.100.9/x',
            "host '198.51.100.9' is in disallowed_hosts")
    opts(conf, allowed_schemes=['http', 'https', 'ftp'])
    refused(conf, 'ftp://198.51.100.7/x',
            "scheme 'ftp' cannot be downloaded, only http and https")


def test_explicit_default_port_checked_only_when_stated(conf, dns):
    opts(conf, allowed_ports=[8080])
    assert uri_filter.check_uri(conf, 'http://198.51.100.7/x').port == 80
    assert uri_filter.check_uri(
        conf, 'http://198.51.100.7:8080/x').port == 8080
    refused(conf, 'http://198.51.100.7:80/x')


def test_deny_lists_ignored_when_allow_lists_set(conf, dns):
    opts(conf, allowed_schemes=['http'], disallowed_schemes=['http'],
         allowed_ports=[80], disallowed_ports=[80])
    uri_filter.check_uri(conf, 'http://198.51.100.7:80/x')
    opts(conf, allowed_ports=[], disallowed_ports=[81])
    refused(conf, 'http://198.51.100.7:81/x')


def test_disallowed_hosts(conf, dns):
    dns['a.example.com'] = ['198.51.100.7']
    dns['b.example.com'] = ['198.51.100.8']
    opts(conf, disallowed_hosts=['a.example.com', '198.51.100.8'])
    refused(conf, 'http://a.example.com/x')
    # b's name is fine but its only address is a disallowed IP.
    refused(conf, 'http://b.example.com/x')


def test_connects_to_the_checked_address(conf, dns, monkeypatch):
    dns['images.example.com'] = ['198.51.100.7']
    seen = []

    def create_connection(address, timeout=None, *args):
        seen.append(address)
        raise OSError('no network in unit tests')
    monkeypatch.setattr(socket, 'create_connection', create_connection)
    with pytest.raises(exception.ImportTaskError) as info:
        uri_filter.open_url(conf, 'http://images.example.com/disk')
    assert seen == [('198.51.100.7', 80)]
    assert 'Cannot connect to images.example.com' in info.value.msg


def test_open_url_turns_filter_errors_into_task_errors(conf, dns):
    with pytest.raises(exception.ImportTaskError) as info:
        uri_filter.open_url(conf, 'http://127.0.0.1/x')
    assert 'does not pass filtering' in info.value.msg
