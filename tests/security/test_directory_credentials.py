"""Credentials in the directory: the store is private, keys are kept as digests, revocation is
immediate, and nothing tells an unknown user name from a wrong password.

One test per finding of the adversarial review (issue 15): 2, 7, 8, 9, 14 and 17."""

from __future__ import annotations

import base64
import hashlib
import os
import sqlite3
import stat
import time
from pathlib import Path

import httpx
import pytest
from vspk import v6 as vsdk

from overcast.client.vsd import VsdClient, VsdClientError
from overcast.directory import passwords as directory_passwords
from overcast.directory.db import Store, default_sqlite_url, migrate
from overcast.directory.server import csproot_warnings
from overcast.directory.service import Directory
from overcast.testing.directory import ServedDirectory, served_directory


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def xrest(served: ServedDirectory, user: str, secret: str, org: str, path: str = "/me") -> httpx.Response:
    token = base64.b64encode(f"{user}:{secret}".encode()).decode()
    return httpx.get(
        served.api + path,
        headers={"Authorization": f"XREST {token}", "X-Nuage-Organization": org},
        timeout=30,
    )


@pytest.fixture
def sqlite_dir(tmp_path: Path) -> Path:
    state = tmp_path / "state"
    return state


def test_the_embedded_store_is_private_from_its_first_write(sqlite_dir: Path) -> None:
    os.umask(0o022)  # an ordinary umask: files would be 0644 and directories 0755
    store = Store(default_sqlite_url(sqlite_dir))
    migrate(store)
    directory = Directory(store)
    directory.bootstrap("csproot")
    assert mode(sqlite_dir) == 0o700
    files = [sqlite_dir / n for n in ("directory.db", "directory.db-wal", "directory.db-shm")]
    assert all(f.exists() for f in files)
    assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    store.dispose()


def test_modes_loosened_later_are_fixed_at_start(sqlite_dir: Path) -> None:
    store = Store(default_sqlite_url(sqlite_dir))
    migrate(store)
    store.dispose()
    os.chmod(sqlite_dir, 0o755)
    os.chmod(sqlite_dir / "directory.db", 0o644)
    store = Store(default_sqlite_url(sqlite_dir))
    assert mode(sqlite_dir) == 0o700 and mode(sqlite_dir / "directory.db") == 0o600
    store.dispose()


def test_api_keys_are_stored_as_digests(tmp_path: Path) -> None:
    database = tmp_path / "directory.db"
    with served_directory(f"sqlite:///{database}") as served:
        key = VsdClient(served.url).login()["APIKey"]
        stored = [row[0] for row in sqlite3.connect(database).execute("SELECT key FROM api_keys")]
        assert key not in stored
        assert stored == [hashlib.sha256(key.encode()).hexdigest()]
        # The key still works (the digest is what is looked up).
        assert xrest(served, "csproot", key, "csp").status_code == 200


@pytest.fixture
def tenant(sqlite_server: ServedDirectory) -> tuple[VsdClient, dict, dict]:
    admin = VsdClient(sqlite_server.url)
    enterprise = admin.create("enterprises", {"name": "acme"})
    user = admin.create(
        f"enterprises/{enterprise['ID']}/users",
        {"userName": "dev", "password": "first", "email": "dev@acme", "firstName": "d", "lastName": "d"},
    )
    return admin, enterprise, user


def logged_in_key(served: ServedDirectory, password: str = "first") -> str:
    return VsdClient(served.url, "dev", password, "acme").login()["APIKey"]


@pytest.mark.parametrize("revocation", ["password", "disable", "delete"])
def test_keys_are_revoked_at_once(
    sqlite_server: ServedDirectory, tenant: tuple[VsdClient, dict, dict], revocation: str
) -> None:
    admin, _enterprise, user = tenant
    key = logged_in_key(sqlite_server)
    assert xrest(sqlite_server, "dev", key, "acme", "/enterprises").status_code == 200  # now cached
    if revocation == "password":
        admin.update(f"users/{user['ID']}", {"password": "second"})
    elif revocation == "disable":
        admin.update(f"users/{user['ID']}", {"disabled": True})
    else:
        admin.delete(f"users/{user['ID']}")
    assert xrest(sqlite_server, "dev", key, "acme", "/enterprises").status_code == 401
    if revocation == "password":
        assert xrest(sqlite_server, "dev", "second", "acme").status_code == 200


def test_vspk_saves_a_user_without_sending_its_password(
    sqlite_server: ServedDirectory, tenant: tuple[VsdClient, dict, dict]
) -> None:
    session = vsdk.NUVSDSession(
        username="csproot", password="csproot", enterprise="csp", api_url=sqlite_server.url
    )
    session.start()
    user = vsdk.NUUser(id=tenant[2]["ID"])
    user.fetch()
    user.email = "new@acme"
    user.disabled = True
    user.save()  # sends password: null, as vspk does
    assert tenant[0].get(f"users/{tenant[2]['ID']}")["email"] == "new@acme"
    assert xrest(sqlite_server, "dev", "first", "acme").status_code == 401  # disabled


def test_an_unknown_user_costs_what_a_wrong_password_costs(
    sqlite_server: ServedDirectory, tenant: tuple[VsdClient, dict, dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real = directory_passwords.hashlib.scrypt

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(directory_passwords.hashlib, "scrypt", counting)
    answers = {}
    for case, (user, org) in {
        "wrong password": ("dev", "acme"),
        "unknown user": ("nobody", "acme"),
        "unknown organization": ("dev", "nowhere"),
    }.items():
        calls.clear()
        response = xrest(sqlite_server, user, "guess", org)
        answers[case] = (response.status_code, response.json()["errors"][0]["descriptions"][0]["description"])
        assert len(calls) == 1, f"{case}: {len(calls)} password hashes computed"
    assert len(set(answers.values())) == 1, answers


def test_a_disabled_account_is_only_named_to_its_password(
    sqlite_server: ServedDirectory, tenant: tuple[VsdClient, dict, dict]
) -> None:
    admin, _enterprise, user = tenant
    admin.update(f"users/{user['ID']}", {"disabled": True})
    wrong = xrest(sqlite_server, "dev", "guess", "acme")
    right = xrest(sqlite_server, "dev", "first", "acme")
    assert wrong.status_code == right.status_code == 401
    assert "disabled" not in wrong.text and "disabled" in right.text


def test_enterprise_names_are_unique_whatever_their_case(tenant: tuple[VsdClient, dict, dict]) -> None:
    admin = tenant[0]
    with pytest.raises(VsdClientError) as refused:
        admin.create("enterprises", {"name": "ACME"})
    assert refused.value.status == 409 and refused.value.property == "name"
    answers = admin.create_many("enterprises", [{"name": "Other"}, {"name": "oTHER"}])
    assert [a["status"] for a in answers] == [201, 409]


def test_names_longer_than_the_limit_are_refused_not_truncated(tenant: tuple[VsdClient, dict, dict]) -> None:
    admin, enterprise, _user = tenant
    for name in ("x" * 256, "y" * 300):
        with pytest.raises(VsdClientError) as refused:
            admin.create(f"enterprises/{enterprise['ID']}/domaintemplates", {"name": name})
        assert refused.value.status == 409 and refused.value.property == "name"
    made = admin.create(f"enterprises/{enterprise['ID']}/domaintemplates", {"name": "z" * 255})
    assert made["name"] == "z" * 255


def test_a_lone_surrogate_is_refused(
    sqlite_server: ServedDirectory, tenant: tuple[VsdClient, dict, dict]
) -> None:
    admin, enterprise, _user = tenant
    response = admin.request("POST", f"enterprises/{enterprise['ID']}/domaintemplates", {"name": "a\ud800b"})
    assert response.status_code == 400, response.text
    assert admin.list(f"enterprises/{enterprise['ID']}/domaintemplates").count == 0


def test_the_default_password_is_warned_of_at_every_start(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'directory.db'}")
    migrate(store)
    directory = Directory(store)
    directory.bootstrap("csproot")
    assert any("default password" in w for w in csproot_warnings(directory, "csproot", True))
    # The variable set after the first start: still the default, and the variable is named.
    warnings = csproot_warnings(directory, "s3cret", False)
    assert any("default password" in w for w in warnings)
    assert any("OVERCAST_CSPROOT_PASSWORD" in w for w in warnings)
    store.dispose()
    store = Store(f"sqlite:///{tmp_path / 'other.db'}")
    migrate(store)
    directory = Directory(store)
    directory.bootstrap("s3cret")
    assert csproot_warnings(directory, "s3cret", False) == []
    store.dispose()


def test_failed_logins_are_throttled_per_account_without_naming_it(
    sqlite_server: ServedDirectory, tenant: tuple[VsdClient, dict, dict]
) -> None:
    from overcast.directory.throttle import LoginThrottle

    sqlite_server.directory.auth.throttle = LoginThrottle(limit=3, window=1.5)
    key = logged_in_key(sqlite_server)
    for account in ("dev", "nobody"):  # a real account and an unknown one behave alike
        statuses = [xrest(sqlite_server, account, "guess", "acme").status_code for _ in range(4)]
        assert statuses == [401, 401, 401, 429], (account, statuses)
    refused = xrest(sqlite_server, "dev", "first", "acme")  # even the right password, for now
    assert refused.status_code == 429 and "try again" in refused.text
    assert xrest(sqlite_server, "dev", key, "acme", "/enterprises").status_code == 200  # keys still work
    assert xrest(sqlite_server, "csproot", "csproot", "csp").status_code == 200  # other accounts too
    time.sleep(1.6)
    assert xrest(sqlite_server, "dev", "first", "acme").status_code == 200
