"""The bucket inventory configuration API of the local server (PUT/GET/DELETE ``?inventory``), through
cos-python-sdk-v5 as an application calls it."""

from __future__ import annotations

from typing import Any

import pytest
from qcloud_cos import CosServiceError

CONFIG: dict[str, Any] = {
    "Destination": {"COSBucketDestination": {"AccountId": "100000000001", "Bucket": "qcs::cos:ap-guangzhou::inv-1250000000",
                                             "Format": "CSV", "Prefix": "reports"}},
    "IsEnabled": "true",
    "Filter": {"Prefix": "photos/"},
    "IncludedObjectVersions": "Current",
    "OptionalFields": {"Field": ["Size", "LastModifiedDate", "ETag", "StorageClass"]},
    "Schedule": {"Frequency": "Daily"},
}


def test_put_get_list_delete(client: Any, bucket: str) -> None:
    client.put_bucket_inventory(Bucket=bucket, Id="daily", InventoryConfiguration=dict(CONFIG))
    got = client.get_bucket_inventory(Bucket=bucket, Id="daily")
    assert got["Id"] == "daily"
    assert got["Destination"]["COSBucketDestination"]["Bucket"] == "qcs::cos:ap-guangzhou::inv-1250000000"
    assert got["OptionalFields"]["Field"] == ["Size", "LastModifiedDate", "ETag", "StorageClass"]
    client.put_bucket_inventory(Bucket=bucket, Id="weekly",
                                InventoryConfiguration={**CONFIG, "Schedule": {"Frequency": "Weekly"}})
    listed = client.list_bucket_inventory_configurations(Bucket=bucket)
    assert [c["Id"] for c in listed["InventoryConfiguration"]] == ["daily", "weekly"]
    assert listed["IsTruncated"] == "false"
    client.delete_bucket_inventory(Bucket=bucket, Id="daily")
    with pytest.raises(CosServiceError) as missing:
        client.get_bucket_inventory(Bucket=bucket, Id="daily")
    assert missing.value.get_status_code() == 404
    assert missing.value.get_error_code() == "NoSuchInventoryConfiguration"


@pytest.mark.parametrize("change", [
    {"Schedule": {"Frequency": "Hourly"}},
    {"IncludedObjectVersions": "Some"},
    {"Destination": {"COSBucketDestination": {"Bucket": "inv-1250000000", "Format": "CSV"}}},
    {"Destination": {"COSBucketDestination": {"Bucket": "qcs::cos:ap-guangzhou::inv-1250000000", "Format": "ORC"}}},
])
def test_bad_configurations_are_refused_and_change_nothing(client: Any, bucket: str, change: dict[str, Any]) -> None:
    with pytest.raises(CosServiceError) as refused:
        client.put_bucket_inventory(Bucket=bucket, Id="bad", InventoryConfiguration={**CONFIG, **change})
    assert refused.value.get_status_code() == 400
    assert client.list_bucket_inventory_configurations(Bucket=bucket).get("InventoryConfiguration") is None
