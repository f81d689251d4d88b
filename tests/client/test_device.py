"""The device core with a fake App Server: unlock, limits, sessions, audit, reads."""

import datetime
import sqlite3

import pyotp
import pytest

from strongroom.client.clipboard import MemoryClipboard
from strongroom.client.device import Device, Vault
from strongroom.client.errors import (
    AlreadyPaired,
    BiometricUnavailable,
    CacheCorrupt,
    CacheErased,
    CacheExpired,
    DeviceRevoked,
    MasterPasswordRequired,
    NoOtpSecret,
    NotPaired,
    RecordNotFound,
    SessionInvalid,
    WipeRequested,
    WrongMasterPassword,
)
from strongroom.client.keystore import MemoryKeystore
from strongroom.protocol.errors import ErrorCode
from strongroom.protocol.schemas import DeviceEventType, Policies
from tests.client.conftest import SECRET_NOTES, SECRET_OTP, SECRET_PASSWORD
from tests.client.fakes import MASTER, PAYLOAD, FakeClock, FakeServer


def _titles(vault: Vault) -> list[str]:
    return [r.title for r in vault.records()]


def test_pair_and_sync_show_every_record(vault: Vault) -> None:
    """After pairing and one sync the device lists the server's records by title."""
    assert _titles(vault) == ["Bank login", "Brokerage", "Wiki"]
    assert [info.path for info in vault.lists()] == ["Finance/Bank", "Finance/Docs"]


def test_pairing_twice_is_refused(device: Device, vault: Vault) -> None:
    """A profile that is paired refuses a second pairing instead of overwriting."""
    with pytest.raises(AlreadyPaired):
        device.pair(PAYLOAD, MASTER)


def test_reading_before_pairing_says_pair_first(device: Device) -> None:
    """An empty profile tells the person to pair."""
    with pytest.raises(NotPaired):
        device.unlock(MASTER)


def test_secrets_never_reach_the_cache_files_in_clear(
    device: Device, vault: Vault
) -> None:
    """No secret, title or username appears in the cache file, its WAL or its SHM."""
    vault.reveal(vault.search("bank")[0].id)
    cache = device.settings.cache_file
    blobs = b"".join(
        p.read_bytes()
        for p in (
            cache,
            cache.with_name(cache.name + "-wal"),
            cache.with_name(cache.name + "-shm"),
        )
        if p.exists()
    )
    for secret in (
        SECRET_PASSWORD,
        SECRET_NOTES,
        SECRET_OTP,
        "4711-secretpin",
        "Bank login",
        "alice@bank",
        MASTER,
    ):
        assert secret.encode() not in blobs


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("LOGIN", ["Bank login"]),
        ("bank", ["Bank login", "Brokerage"]),
        ("alice@", ["Bank login"]),
        ("broker.example", ["Brokerage"]),
        ("team WIKI", ["Wiki"]),
        ("finance/docs", ["Wiki"]),
        ("finance", ["Bank login", "Brokerage", "Wiki"]),
        ("nothing-like-this", []),
    ],
)
def test_search_looks_at_title_username_url_description_and_path(
    vault: Vault, text: str, expected: list[str]
) -> None:
    """Search is case-insensitive over title, username, description, URL and path."""
    assert [r.title for r in vault.search(text)] == expected


def test_show_masks_and_reveal_opens(vault: Vault) -> None:
    """`get` returns no secrets; `reveal` returns every secret field."""
    record_id = vault.search("bank login")[0].id
    masked = vault.get(record_id[:8])
    assert masked.secrets is None
    assert masked.summary.has_password and masked.summary.has_otp
    revealed = vault.reveal(record_id)
    assert revealed.secrets is not None
    assert revealed.secrets.password == SECRET_PASSWORD
    assert revealed.secrets.notes == SECRET_NOTES
    assert revealed.secrets.secret_fields == {"PIN": "4711-secretpin"}
    assert [(f.name, f.value) for f in revealed.summary.fields] == [
        ("PIN", ""),
        ("Branch", "Main street"),
    ]


def test_unknown_record_id_is_a_clear_error(vault: Vault) -> None:
    """An id that matches nothing raises RecordNotFound."""
    with pytest.raises(RecordNotFound):
        vault.get("ffffffff-0000")


def test_wrong_password_counts_and_erases_at_the_limit(
    device: Device, vault: Vault, fake_server: FakeServer
) -> None:
    """Each wrong password says the attempts left; the limit erases the cache."""
    vault.lock()
    with pytest.raises(WrongMasterPassword) as first:
        device.unlock("wrong one")
    assert first.value.attempts_left == 2
    with pytest.raises(WrongMasterPassword):
        device.unlock("wrong two")
    with pytest.raises(CacheErased):
        device.unlock("wrong three")
    assert not device.settings.cache_file.exists()
    assert (
        device.status().erased_reason
        == "the master password was entered wrongly 3 times"
    )
    with pytest.raises(CacheErased):
        device.unlock(MASTER)


def test_a_good_unlock_resets_the_failure_count(device: Device, vault: Vault) -> None:
    """Failures that are followed by a success do not add up toward erasure."""
    vault.lock()
    for _ in range(2):
        with pytest.raises(WrongMasterPassword):
            device.unlock("nope")
    device.unlock(MASTER).lock()
    with pytest.raises(WrongMasterPassword) as again:
        device.unlock("nope")
    assert again.value.attempts_left == 2


def test_failed_unlocks_are_queued_encrypted_and_uploaded(
    device: Device, vault: Vault, fake_server: FakeServer
) -> None:
    """A failed unlock is queued without the key, unreadable, and uploaded later."""
    vault.lock()
    with pytest.raises(WrongMasterPassword):
        device.unlock("nope")
    rows = (
        sqlite3.connect(device.settings.cache_file)
        .execute("SELECT kind, blob FROM events")
        .fetchall()
    )
    assert [kind for kind, _ in rows].count("p") == 1
    assert all(b"unlock_failed" not in bytes(blob) for _, blob in rows)
    reopened = device.unlock(MASTER)
    reopened.sync()
    types = [e.event_type for e in fake_server.events.values()]  # type: ignore
    assert DeviceEventType.UNLOCK_FAILED in types
    assert device.status().queued_events == 0
    reopened.lock()


def test_every_access_is_queued_then_uploaded_once(
    vault: Vault, fake_server: FakeServer, clipboard: MemoryClipboard
) -> None:
    """Views, reveals, copies and OTP views are queued and acknowledged exactly once."""
    record_id = vault.search("bank login")[0].id
    vault.get(record_id)
    vault.reveal(record_id)
    vault.copy(record_id)
    vault.otp(record_id)
    assert vault.store.event_count() == 4
    vault.sync()
    vault.sync()
    kinds = sorted(e.event_type.value for e in fake_server.events.values())  # type: ignore
    assert kinds.count("device.record_copied") == 1
    assert {
        "device.record_viewed",
        "device.record_revealed",
        "device.otp_viewed",
    } <= set(kinds)
    assert vault.store.event_count() == 0


def test_copy_clears_only_an_unchanged_clipboard(
    vault: Vault, clipboard: MemoryClipboard
) -> None:
    """The clipboard is cleared later unless the person copied something else."""
    record_id = vault.search("brokerage")[0].id
    assert vault.copy(record_id) == 30
    assert clipboard.value == "Broker-99-xyz"
    assert clipboard.run_pending() == [True]
    assert clipboard.value == ""
    vault.copy(record_id, "username")
    clipboard.copy("something the person copied")
    assert clipboard.run_pending() == [False]
    assert clipboard.value == "something the person copied"


def test_otp_matches_rfc6238(vault: Vault, clock: FakeClock) -> None:
    """The code is pyotp's TOTP at the device time, with the seconds left."""
    code = vault.otp(vault.search("bank login")[0].id)
    assert code.code == pyotp.TOTP(SECRET_OTP).at(clock.now)
    assert code.seconds_left == 30 - int(clock.now.timestamp()) % 30


def test_otp_without_secret_is_a_clear_error(vault: Vault) -> None:
    """A record without OTP secret says so."""
    with pytest.raises(NoOtpSecret):
        vault.otp(vault.search("wiki")[0].id)


def test_offline_ttl_hides_everything_until_a_sync(
    vault: Vault, clock: FakeClock
) -> None:
    """Past the offline TTL nothing is shown; a sync makes it readable again."""
    clock.advance(days=7, minutes=1)
    with pytest.raises(CacheExpired):
        vault.records()
    with pytest.raises(CacheExpired):
        vault.search("bank")
    vault.sync()
    assert len(vault.records()) == 3


def test_turning_the_clock_back_does_not_extend_the_ttl(
    device: Device, vault: Vault, clock: FakeClock
) -> None:
    """A device clock set back behind the last seen time counts as expired."""
    vault.lock()
    clock.advance(days=3)
    device.unlock(MASTER).lock()
    clock.advance(days=-2)
    reopened = device.unlock(MASTER)
    with pytest.raises(CacheExpired):
        reopened.records()
    reopened.lock()


def test_session_token_unlocks_until_lock(device: Device, vault: Vault) -> None:
    """A session token reopens the cache; after `lock` it opens nothing."""
    token = vault.start_session()
    vault.lock()
    with device.resume(token) as resumed:
        assert len(resumed.records()) == 3
    assert device.lock() == 1
    with pytest.raises(SessionInvalid):
        device.resume(token)


def test_session_token_idles_out(
    device: Device, vault: Vault, clock: FakeClock
) -> None:
    """A session unused for longer than the idle time ends."""
    token = vault.start_session()
    clock.advance(minutes=14)
    device.resume(token).lock()
    clock.advance(minutes=14)
    device.resume(token).lock()
    clock.advance(minutes=16)
    with pytest.raises(SessionInvalid):
        device.resume(token)


@pytest.mark.parametrize(
    "token",
    ["", "srm1.x.y", "garbage", "srm1.00000000-0000-0000-0000-000000000000.AAAA"],
)
def test_malformed_session_tokens_are_refused(
    device: Device, vault: Vault, token: str
) -> None:
    """Tokens that are not ours are refused with SessionInvalid."""
    with pytest.raises(SessionInvalid):
        device.resume(token)


def test_token_with_a_forged_secret_opens_nothing(device: Device, vault: Vault) -> None:
    """Knowing the session id (it is in the cache file) is not enough."""
    token = vault.start_session()
    prefix, session_id, _secret = token.split(".")
    forged = f"{prefix}.{session_id}.{'A' * 43}"
    with pytest.raises(SessionInvalid):
        device.resume(forged)


def test_biometric_unlock_and_reentry_interval(
    device: Device, vault: Vault, clock: FakeClock, keystore: MemoryKeystore
) -> None:
    """Biometrics unlock until the re-entry interval passes; then the password."""
    vault.enable_biometric()
    assert keystore.secrets
    vault.lock()
    device.unlock_biometric().lock()
    clock.advance(hours=73)
    with pytest.raises(MasterPasswordRequired):
        device.unlock_biometric()
    device.unlock(MASTER).lock()
    device.unlock_biometric().lock()


def test_biometric_policy_off_removes_the_key(
    device: Device, vault: Vault, fake_server: FakeServer, keystore: MemoryKeystore
) -> None:
    """When the policy stops allowing biometrics, the next sync turns them off."""
    vault.enable_biometric()
    fake_server.policies = fake_server.policies.model_copy(
        update={"biometric_allowed": False}
    )
    vault.sync()
    assert not keystore.secrets
    assert device.status().biometric is False
    vault.lock()
    with pytest.raises(BiometricUnavailable):
        device.unlock_biometric()


def test_biometric_without_enabling_is_refused(device: Device, vault: Vault) -> None:
    """Biometric unlock that was never turned on says how to turn it on."""
    vault.lock()
    with pytest.raises(BiometricUnavailable, match="not turned on"):
        device.unlock_biometric()


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (ErrorCode.WIPE_REQUESTED, WipeRequested),
        (ErrorCode.DEVICE_REVOKED, DeviceRevoked),
        (ErrorCode.CREDENTIAL_REPLAYED, DeviceRevoked),
    ],
)
def test_wipe_or_revocation_erases_on_contact(
    device: Device,
    vault: Vault,
    fake_server: FakeServer,
    code: ErrorCode,
    error: type[Exception],
) -> None:
    """A wipe order or a revocation erases the cache at the next sync."""
    fake_server.refuse_with = code
    with pytest.raises(error):
        vault.sync()
    assert not device.settings.cache_file.exists()
    assert device.status().paired is False
    assert device.status().erased_reason


def test_status_needs_no_unlock(device: Device, vault: Vault, clock: FakeClock) -> None:
    """Status shows server, user, last sync, TTL left and queued events while locked."""
    vault.get(vault.records()[0].id)
    vault.lock()
    info = device.status()
    assert info.server_url == PAYLOAD.url
    assert info.username == "alice"
    assert info.last_sync_at == clock.now
    assert info.ttl_left == datetime.timedelta(days=7)
    assert info.queued_events == 1  # the view (pairing itself is audited by the server)
    assert info.biometric is False


@pytest.mark.parametrize("cut", [0, 100, 4096, -1])
def test_truncated_cache_is_reported_and_left_alone(
    device: Device, vault: Vault, cut: int
) -> None:
    """A truncated or corrupted cache gives CacheCorrupt and is not modified."""
    vault.lock()
    path = device.settings.cache_file
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    data = path.read_bytes()
    if cut >= 0:
        broken = data[:cut]
    else:  # overwrite a page in the middle with noise
        page = (len(data) // 4096 // 2) * 4096
        broken = data[:page] + bytes(range(256)) * 16 + data[page + 4096 :]
    path.write_bytes(broken)
    with pytest.raises(CacheCorrupt):
        device.unlock(MASTER).records()
    assert path.read_bytes() == broken


def test_a_tampered_record_is_refused(device: Device, vault: Vault) -> None:
    """A sealed record swapped onto another row fails authentication: CacheCorrupt."""
    vault.lock()
    con = sqlite3.connect(device.settings.cache_file)
    rows = con.execute("SELECT id, summary FROM records ORDER BY id").fetchall()
    con.execute("UPDATE records SET summary = ? WHERE id = ?", (rows[1][1], rows[0][0]))
    con.commit()
    con.close()
    with pytest.raises(CacheCorrupt):
        device.unlock(MASTER).records()


def test_logout_unregisters_and_erases(device: Device, vault: Vault) -> None:
    """Logout uploads events, tells the server and removes the cache without a note."""
    vault.logout()
    assert device.status().paired is False
    assert device.status().erased_reason is None


def test_policies_from_the_server_are_applied(
    fake_server: FakeServer, device: Device
) -> None:
    """The failed-unlock limit comes from the server's policies."""
    fake_server.policies = Policies(
        offline_ttl_days=1,
        failed_unlock_limit=1,
        biometric_allowed=True,
        master_password_reentry_hours=1,
    )
    device.pair(PAYLOAD, MASTER).lock()
    with pytest.raises(CacheErased):
        device.unlock("wrong")


def test_clock_fixture_is_used(clock: FakeClock) -> None:
    """The fake clock starts in 2030 (sanity check of the fixture the tests rely on)."""
    assert clock().year == 2030


@pytest.mark.parametrize(
    ("unix_time", "expected"),
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
    ],
)
def test_otp_rfc6238_vectors(unix_time: int, expected: str) -> None:
    """The SHA-1 test vectors of RFC 6238 appendix B come out of an otpauth URI."""
    from strongroom.client.otp import current_code

    uri = "otpauth://totp/x?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&digits=8&period=30"
    now = datetime.datetime.fromtimestamp(unix_time, datetime.UTC)
    assert current_code(uri, now).code == expected


def test_otp_accepts_80_bit_secrets() -> None:
    """A classic 80-bit secret (as many services issue) still gives a 6-digit code."""
    from strongroom.client.otp import current_code

    now = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
    assert len(current_code("JBSWY3DPEHPK3PXP", now).code) == 6


@pytest.mark.parametrize(
    "secret",
    [
        "not base32 !!",
        "otpauth://hotp/x?secret=JBSWY3DPEHPK3PXP",
        "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&algorithm=MD5",
    ],
)
def test_otp_bad_secrets_are_clear_errors(secret: str) -> None:
    """Unusable OTP secrets raise NoOtpSecret, not a stack trace."""
    from strongroom.client.otp import current_code

    with pytest.raises(NoOtpSecret):
        current_code(secret, datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC))


def test_a_sync_waits_for_another_then_says_so(
    device: Device, vault: Vault, fake_server: FakeServer
) -> None:
    """While another sync of the profile holds the lock, a sync waits, then says so."""
    from strongroom.client.cache import sync_lock
    from strongroom.client.errors import SyncInProgress

    device.settings = device.settings.model_copy(
        update={"connect_timeout_seconds": 0.2, "read_timeout_seconds": 0.3}
    )
    before = fake_server.syncs
    with sync_lock(device.profile, 1), pytest.raises(SyncInProgress) as busy:
        vault.sync()
    assert "another sync of this device is still running" in busy.value.message
    assert fake_server.syncs == before  # nothing was sent while waiting
    vault.sync()
    assert fake_server.syncs == before + 1


def test_search_reads_one_sealed_index_not_every_record(
    device: Device, vault: Vault, fake_server: FakeServer
) -> None:
    """A first search (or a show) opens the sealed index and only the records found."""
    from strongroom.client import search_index

    vault.lock()
    reopened = device.unlock(MASTER)
    opened: list[bytes] = []
    real_open = reopened.store.open_json

    def counting(key: bytes, blob: bytes, aad: bytes) -> object:
        opened.append(aad)
        return real_open(key, blob, aad)

    reopened.store.open_json = counting  # type: ignore[method-assign]
    found = reopened.search("brokerage")
    assert [r.title for r in found] == ["Brokerage"]
    assert len([a for a in opened if a.endswith(b"/summary")]) == 1
    assert any(a.endswith(search_index.INDEX_ROW.encode() + b"/") for a in opened)
    # Showing a record by an id prefix opens that record alone as well.
    assert reopened.get(found[0].id[:6]).summary == found[0]
    assert len([a for a in opened if a.endswith(b"/summary")]) == 2
    reopened.lock()


def test_a_cache_without_index_searches_and_the_next_sync_indexes_it(
    device: Device, vault: Vault, fake_server: FakeServer
) -> None:
    """A cache from before the index still searches; the next sync writes one."""
    from strongroom.client import search_index

    with vault.store.transaction() as conn:
        conn.execute("DELETE FROM sealed WHERE name = ?", (search_index.INDEX_ROW,))
    vault.lock()
    reopened = device.unlock(MASTER)
    assert [r.title for r in reopened.search("team wiki")] == ["Wiki"]
    fake_server.add("Vpn", list_name="Docs", description="office VPN")
    reopened.sync()
    assert search_index.read(reopened.store, reopened.key) is not None
    assert [r.title for r in reopened.search("office")] == ["Vpn"]
    assert [r.title for r in reopened.search("finance/docs")] == ["Vpn", "Wiki"]
    reopened.lock()


def test_the_cache_key_is_wrapped_by_argon2id_of_64_mib_and_3_passes(
    device: Device, vault: Vault, keystore: MemoryKeystore
) -> None:
    """The stored parameters are at least RFC 9106's 64 MiB / 3 passes, and the
    master password through exactly them (or the keystore's key) opens the key."""
    from strongroom.crypto import aead
    from strongroom.crypto.passwords import KdfParams, derive_key

    params = KdfParams.from_dict(vault.store.meta()["kdf"])
    assert params.memory_kib >= 64 * 1024 and params.time_cost >= 3
    assert len(params.salt) == 16
    aad = vault.store.aad("wrapped_keys", "password")
    wrapped = vault.store.wrapped_key("password")
    assert wrapped is not None
    assert aead.open_sealed(derive_key(MASTER, params), wrapped, aad) == vault.key
    vault.enable_biometric()
    secret = keystore.get(vault.store.profile_id)
    biometric = vault.store.wrapped_key("biometric")
    assert secret is not None and biometric is not None
    assert (
        aead.open_sealed(
            secret, biometric, vault.store.aad("wrapped_keys", "biometric")
        )
        == vault.key
    )
