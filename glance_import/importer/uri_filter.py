"""Safe fetching of remote image data (web-download, glance-download).

``check_uri`` applies ``[import_filtering_opts]`` the way Glance does
(scheme, normalised host, explicit port) and then resolves the host and
keeps only addresses the service may reach: loopback, link-local,
unspecified, multicast and reserved addresses are dropped unless the host
itself is in ``allowed_hosts``. ``open_url`` connects to one of those
checked addresses (so DNS cannot answer differently between the check and
the fetch) and repeats the whole check on every redirect.
"""

import dataclasses
import http.client
import ipaddress
import logging
import re
import socket
import ssl
import urllib.parse

from glance_import import exception

LOG = logging.getLogger(__name__)

MAX_REDIRECTS = 5
TIMEOUT = 60
CHUNK_SIZE = 1 << 20
DEFAULT_PORTS = {'http': 80, 'https': 443}
# RFC 3986 URIs hold no spaces or controls; Python's parser would drop
# some of them silently and the resolver chokes on NUL.
_UNSAFE = re.compile(r'[\x00-\x20\x7f]')


class FilterError(exception.BadRequest):
    """The URI does not pass the filtering options."""


@dataclasses.dataclass
class Target:
    """A URI that passed the filter, with the addresses it may use."""

    uri: str
    scheme: str
    host: str
    port: int
    path: str
    addresses: list


def _allow_deny(conf_group, allow_name, deny_name):
    allowed = list(getattr(conf_group, allow_name) or [])
    denied = list(getattr(conf_group, deny_name) or [])
    # With both lists set, the deny list is ignored (as in Glance).
    return allowed, ([] if allowed else denied)


def normalise_host(host):
    """Canonical form of a URI host, or None when it must be refused.

    IP literals are canonicalised; digit-only and non-canonical numeric
    hosts (octal, hex or decimal encodings of an address) are refused
    because resolvers would quietly turn them into addresses.
    """
    if not host:
        return None
    host = host.strip('[]').lower().rstrip('.')
    if not host:
        return None
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if all(c.isdigit() or c == '.' for c in host):
        return None
    try:
        socket.inet_aton(host)
    except OSError:
        return host
    # inet_aton accepts forms like 0x7f.1 that are not canonical IPv4.
    return None


def _resolve(host, port):
    try:
        ipaddress.ip_address(host)
        return [host]
    except ValueError:
        # The trailing dot stops search domains from being appended;
        # single-label names (localhost) may still come from the hosts
        # file, whose answers are checked below like any other.
        names = [host + '.'] + ([host] if '.' not in host else [])
    for name in names:
        try:
            infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            continue
        addresses = []
        for info in infos:
            address = info[4][0].split('%', 1)[0]
            if address not in addresses:
                addresses.append(address)
        if addresses:
            return addresses
    return []


def address_refused(address):
    """True for addresses no download may reach by default."""
    ip = ipaddress.ip_address(address)
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (ip.is_loopback or ip.is_link_local or ip.is_unspecified
            or ip.is_multicast or ip.is_reserved)


def check_uri(conf, uri, purpose='web-download'):
    """Return a Target for *uri*, or raise FilterError.

    The message starts as Glance's and then names the rule that refused
    the URI, so the client knows which setting or which part to change.
    """
    def refuse(reason):
        LOG.info('URI %r refused: %s', uri, reason)
        raise FilterError(
            'URI for %s does not pass filtering: %s (%s)'
            % (purpose, uri, reason))

    opts = conf.import_filtering_opts
    if not isinstance(uri, str) or not uri:
        refuse('no URI given')
    if _UNSAFE.search(uri):
        refuse('the URI contains spaces or control characters')
    try:
        parts = urllib.parse.urlsplit(uri)
        port = parts.port
    except ValueError:
        refuse('the URI is malformed')
    scheme = (parts.scheme or '').lower()
    _check_listed(refuse, opts, 'scheme', scheme or None)
    if scheme not in DEFAULT_PORTS:
        refuse('scheme %r cannot be downloaded, only http and https'
               % scheme)

    host = normalise_host(parts.hostname)
    if host is None:
        refuse('host %r is not a name or a canonical address'
               % parts.hostname)
    hosts, denied_hosts = _allow_deny(opts, 'allowed_hosts',
                                      'disallowed_hosts')
    hosts = [normalise_host(h) or h for h in hosts]
    denied_hosts = [normalise_host(h) or h for h in denied_hosts]
    if hosts and host not in hosts:
        refuse('host %r is not in allowed_hosts' % host)
    if host in denied_hosts:
        refuse('host %r is in disallowed_hosts' % host)
    if port is not None:
        _check_listed(refuse, opts, 'port', port)

    effective_port = port or DEFAULT_PORTS[scheme]
    trusted = host in hosts
    addresses = []
    resolved = _resolve(host, effective_port)
    if not resolved:
        refuse('host %r does not resolve' % host)
    for address in resolved:
        if address in denied_hosts:
            continue
        if not trusted and address_refused(address):
            continue
        addresses.append(address)
    if not addresses:
        refuse('host %r resolves only to refused addresses (loopback, '
               'link-local, unspecified, multicast, reserved or in '
               'disallowed_hosts); allowed_hosts may list the host'
               % host)
    path = parts.path or '/'
    if parts.query:
        path += '?' + parts.query
    return Target(uri=uri, scheme=scheme, host=host, port=effective_port,
                  path=path, addresses=addresses)


def _check_listed(refuse, opts, kind, value):
    """Refuse *value* (a scheme or port) outside [import_filtering_opts]."""
    allowed, denied = _allow_deny(opts, 'allowed_%ss' % kind,
                                  'disallowed_%ss' % kind)
    if value is None:
        refuse('the URI has no %s' % kind)
    if allowed and value not in allowed:
        refuse('%s %r is not in allowed_%ss' % (kind, value, kind))
    if value in denied:
        refuse('%s %r is in disallowed_%ss' % (kind, value, kind))


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed address while verifying the certificate of host."""

    def __init__(self, address, host, port, **kwargs):
        super().__init__(host, port, **kwargs)
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port),
                                        self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, address, host, port, **kwargs):
        super().__init__(host, port, **kwargs)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port),
                                             self.timeout)


def _connect(target, timeout):
    last_error = None
    for address in target.addresses:
        if target.scheme == 'https':
            conn = _PinnedHTTPSConnection(
                address, target.host, target.port, timeout=timeout,
                context=ssl.create_default_context())
        else:
            conn = _PinnedHTTPConnection(address, target.host, target.port,
                                         timeout=timeout)
        try:
            conn.connect()
            return conn
        except OSError as e:
            last_error = e
            conn.close()
    raise exception.ImportTaskError(
        reason='Cannot connect to %s: %s' % (target.host, last_error))


class Response:
    """An open HTTP response: ``length`` (or None) and chunked reading."""

    def __init__(self, conn, resp, uri):
        self._conn = conn
        self._resp = resp
        self.uri = uri
        self.status = resp.status
        length = resp.getheader('Content-Length')
        self.length = int(length) if length and length.isdigit() else None
        self.headers = resp.headers

    def iter_chunks(self, size_cap, chunk_size=CHUNK_SIZE):
        """Yield the body; more than *size_cap* bytes aborts with 413."""
        total = 0
        try:
            while True:
                chunk = self._resp.read(chunk_size)
                if not chunk:
                    break
                total += len(chunk)
                if total > size_cap:
                    raise exception.ImageSizeLimitExceeded()
                yield chunk
        except (OSError, http.client.HTTPException) as e:
            raise exception.ImportTaskError(
                reason='Download from %s failed: %s' % (self.uri, e))
        finally:
            self.close()
        if self.length is not None and total != self.length:
            raise exception.ImportTaskError(
                reason='Download from %s ended after %d of %d bytes'
                % (self.uri, total, self.length))

    def read_all(self, limit):
        return b''.join(self.iter_chunks(limit))

    def close(self):
        self._resp.close()
        self._conn.close()


def open_url(conf, uri, headers=None, timeout=TIMEOUT):
    """GET *uri* through the filter, following checked redirects.

    Returns a Response with status 200; anything else is an
    ImportTaskError naming the URI and status.
    """
    for _ in range(MAX_REDIRECTS + 1):
        try:
            target = check_uri(conf, uri)
        except FilterError as e:
            raise exception.ImportTaskError(reason=e.msg)
        conn = _connect(target, timeout)
        host_header = target.host if ':' not in target.host else \
            '[%s]' % target.host
        if target.port != DEFAULT_PORTS[target.scheme]:
            host_header += ':%d' % target.port
        try:
            conn.putrequest('GET', target.path, skip_host=True,
                            skip_accept_encoding=True)
            conn.putheader('Host', host_header)
            for key, value in (headers or {}).items():
                conn.putheader(key, value)
            conn.endheaders()
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            raise exception.ImportTaskError(
                reason='Request to %s failed: %s' % (uri, e))
        if resp.status in (301, 302, 303, 307, 308):
            location = resp.getheader('Location')
            resp.close()
            conn.close()
            if not location:
                raise exception.ImportTaskError(
                    reason='Redirect from %s without a Location' % uri)
            uri = urllib.parse.urljoin(uri, location)
            continue
        if resp.status != 200:
            resp.close()
            conn.close()
            raise exception.ImportTaskError(
                reason='Download from %s failed with HTTP status %d'
                % (uri, resp.status))
        return Response(conn, resp, uri)
    raise exception.ImportTaskError(
        reason='Too many redirects fetching %s' % uri)
