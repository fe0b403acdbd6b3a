"""pipelines.migrate's pure parts: the URI, the verification rules, what a report says."""

import pytest

from pipelines.migrate import postgres
from pipelines.migrate.report import Inventory, differences, verification


def test_a_postgres_uri_becomes_libpq_environment_without_the_password_in_repr() -> None:
    db = postgres.parse_uri(
        "postgresql://ttsadmin:s3cr%40t@tts-pg.postgres.database.azure.com/ttn_lorawan?sslmode=require"
    )
    assert postgres.libpq_env(db) == {
        "PGHOST": "tts-pg.postgres.database.azure.com", "PGPORT": "5432", "PGUSER": "ttsadmin",
        "PGDATABASE": "ttn_lorawan", "PGSSLMODE": "require", "PGPASSWORD": "s3cr@t",
    }  # fmt: skip
    assert "s3cr" not in repr(db)
    assert postgres.tts_database_uri(db) == (
        "postgresql://ttsadmin@tts-pg.postgres.database.azure.com:5432/ttn_lorawan?sslmode=require"
    )


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("mysql://u:p@h/db", "a PostgreSQL URI is postgresql://"),
        ("postgresql://h/db", "a PostgreSQL URI is postgresql://"),
        ("postgresql://u:hunter2@h", "names no database"),
    ],
)
def test_a_bad_uri_is_named_without_repeating_it(uri: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as err:
        postgres.parse_uri(uri)
    assert "hunter2" not in str(err.value)


def source() -> Inventory:
    return Inventory(
        tables={"users": 2, "end_devices": 10, "gateways": 3},
        redis_keys={0: 60},
        redis_volatile={0: 10},
    )


def test_equal_counts_verify_and_expired_volatile_keys_are_allowed() -> None:
    target = Inventory(
        tables={"users": 2, "end_devices": 10, "gateways": 3, "new_in_newer_release": 0},
        redis_keys={0: 55},
        redis_volatile={0: 5},  # 5 locks expired during the copy
    )
    assert differences(source(), target) == []
    assert verification(source(), target).startswith(
        "verified: 3 tables with 15 rows, and 1 Redis database(s) with 50 keys"
    )
    assert "of 10 keys with a TTL 5 were still alive to arrive" in verification(source(), target)


def test_every_difference_is_named() -> None:
    target = Inventory(
        tables={"users": 2, "end_devices": 9},
        redis_keys={0: 59},
        redis_volatile={0: 10},
    )
    assert differences(source(), target) == [
        "table end_devices: source 10 rows, target 9",
        "table gateways: source 3 rows, target no table",
        "Redis db 0: source 50 keys without a TTL, target 49",
    ]
    assert verification(source(), target).startswith("verification FAILED:\n  table end_devices")


def test_the_dry_run_report_lists_tables_and_databases() -> None:
    text = source().render("source")
    assert "PostgreSQL: 3 tables, 15 rows" in text
    assert "end_devices" in text
    assert "db 0" in text
    assert "(10 with a TTL)" in text
