"""RFC 7643/7644 compliance, as python-scim's checker `scim2-tester` judges it, on a live server."""

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

from conftest import DirectoryClient

PASSING = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}


def test_scim2_tester_reports_no_failure(scim: DirectoryClient) -> None:
    with httpx2.Client(
        base_url=scim.base_url, headers={"Authorization": f"Bearer {scim.token}"}, timeout=30
    ) as http:
        results = check_server(SyncSCIMClient(http))
    failures = [
        f"{result.status.name} {result.resource_type or '-'} {result.title}: {result.reason}"
        for result in results
        if result.status not in PASSING
    ]
    assert results, "the checker ran no check"
    assert {result.resource_type for result in results} >= {"User", "Group"}
    assert not failures, "\n".join(failures)
