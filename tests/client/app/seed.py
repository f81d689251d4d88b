"""The data the app's tests and screen captures start from (no Toga imported here).

Alice is in the group "phones", which holds the Mobile App feature; three
lists (two in folders, one at the top level) are shared with her phone, with
records that use every kind of field.
"""

from strongroom.server.accounts import service as accounts
from strongroom.server.core.instance import Instance, operator
from strongroom.server.mobile import service as mobile
from strongroom.server.settings import service as settings_service
from strongroom.server.vault import service as vault

MASTER = "phone-master-Password-7"
WEB_PASSWORD = "web-password-for-alice-1"
BANK_PASSWORD = "Zebra-Quartz-Secret-7731"
BANK_NOTES = "branch code 31-08-77"
# 160 bits of base32: RFC 6238's example key length.
OTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
FAILED_UNLOCK_LIMIT = 2


def seed(instance: Instance) -> str:
    """Alice, her group with the Mobile App feature, three lists in folders."""
    actor = operator()
    cipher = instance.cipher
    with instance.db.session() as session:
        settings_service.set_value(
            session, actor, "failed_unlock_limit", FAILED_UNLOCK_LIMIT
        )
        user = accounts.create_user(session, actor, "alice", password=WEB_PASSWORD)
        group = accounts.create_group(session, actor, "phones")
        accounts.add_member(session, actor, group, user)
        accounts.grant_feature(session, actor, "mobile", group=group)

        banking = vault.create_list(
            session,
            actor,
            "Finance/Banking",
            description="Bank and card logins",
            create_folders=True,
        )
        servers = vault.create_list(session, actor, "IT/Servers", create_folders=True)
        shared = vault.create_list(session, actor, "Shared")
        records = [
            (
                banking,
                vault.RecordInput(
                    title="Bank login",
                    username="alice@bank",
                    password=BANK_PASSWORD,
                    url="https://bank.example/login",
                    description="Main current account",
                    notes=BANK_NOTES,
                    otp_secret=OTP_SECRET,
                    domain="bank.example",
                    fields=[
                        vault.GenericField("PIN", "4711", secret=True),
                        vault.GenericField("Branch", "Main street"),
                    ],
                ),
            ),
            (
                banking,
                vault.RecordInput(title="Credit card", username="4111-xxxx"),
            ),
            (
                servers,
                vault.RecordInput(
                    title="db1",
                    username="root",
                    password="db1-root-pw",
                    host_name="db1.internal",
                    description="PostgreSQL primary",
                ),
            ),
            (
                shared,
                vault.RecordInput(
                    title="Office Wi-Fi",
                    password="wifi-pw-2030",
                    url="javascript:alert(1)",
                ),
            ),
        ]
        for plist, data in records:
            vault.create_record(session, actor, cipher, plist, data)
        for plist in (banking, servers, shared):
            vault.grant(
                session, actor, plist, vault.Level.VIEW, user=user, mobile_access=True
            )
        mobile.set_master_password(session, actor, user, MASTER)
        return user.id
