"""Who may call what on /v2/metadefs, behind Keystone, on every database.

The rows (and the personas, set-ups and checks) are the policy matrix's
(test_policy_matrix.py), which runs with the identity tests on SQLite
only; metadata definitions keep their own rows in the database, so
their matrix runs on PostgreSQL and MySQL as well.
"""

import pytest

from tests.functional import test_policy_matrix as matrix
from tests.functional.test_policy_matrix import source  # noqa: F401


@pytest.fixture(scope='module')
def world(keystone, tmp_path_factory, test_db_url, source):  # noqa: F811
    directory = str(tmp_path_factory.mktemp('metadefs-policy'))
    with matrix.keystone_service(keystone, directory, test_db_url,
                                 source) as w:
        yield w


@pytest.mark.parametrize('persona', matrix.PERSONAS)
@pytest.mark.parametrize('r', matrix.METADEF_ROWS, ids=matrix._row_id)
def test_metadefs_policy(world, r, persona):
    resp, ctx = matrix.check_row(world, r, persona)
    if resp.status_code >= 400:
        return
    if r.path == '/v2/metadefs/namespaces' and r.method == 'GET':
        # Everyone may list; only admins and alpha see alpha's private one.
        listed = [n['namespace'] for n in resp.json()['namespaces']]
        visible = persona in (matrix.ADMIN, matrix.OWNER_MEMBER,
                              matrix.OWNER_READER)
        assert (ctx['namespace'] in listed) == visible
